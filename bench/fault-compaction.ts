// Fault scenario: Chroma down (every connection dropped) mid-compaction of an embedding backfill.
// Only the compactor writes Chroma in this pipeline, so the fault is armed to start right after
// the first request to Chroma: the compactor meets the outage while deltas wait to be applied.
// Items in Chroma are what counts: an item marked embedded whose vector never reached Chroma is lost.
import type { EmbeddingReport } from '../src/activities/embed';
import { embedStatus } from '../src/cli/embed';
import { createEmbeddingDeps } from '../src/deps';
import { ChromaStore } from '../src/stores/chroma';
import { startHarness, freePort, uniqueId } from '../test/helpers/pipeline';
import { providerBatches } from './fault-embedding';
import {
  directConfig,
  waitFor,
  within,
  withProxy,
  type FaultRow,
  type ScenarioContext,
} from './fault-common';

const DATASET = { merchants: 1, receiptsPerMerchant: 5, seed: 6 };
const MAX_REQUESTS = 150;
const RUN_DEADLINE_MS = 3 * 60_000;
const SETTLE_DEADLINE_MS = 120_000;

function embeddingEnv(port: number, tag: string, chromaUrl: string): Record<string, string> {
  return {
    CHROMA_URL: chromaUrl,
    OPENAI_BASE_URL: `http://127.0.0.1:${port}/v1`,
    CHROMA_COLLECTION_PREFIX: `${tag}-`,
    EMBED_S3_PREFIX: `${tag}/`,
    EMBED_COMPACTOR_ID: `embed-compactor-${tag}`,
    EMBED_BATCH_MAX_REQUESTS: String(MAX_REQUESTS),
    EMBED_POLL_INITIAL_MS: '200',
    EMBED_POLL_MAX_MS: '500',
    EMBED_COMPACT_IDLE_MS: '500',
    EMBED_HEARTBEAT_TIMEOUT_MS: '3000',
    EMBED_RECONCILE_MS: '5000',
  };
}

export async function chromaDownMidCompaction(ctx: ScenarioContext): Promise<FaultRow> {
  return withProxy(ctx.stack.chromaUrl, async (proxy) => {
    const port = await freePort();
    const tag = uniqueId('fc');
    const h = await startHarness({
      queues: ['pipeline'],
      emulator: { port, batchCompleteAfterS: 2, embeddingDim: 64 },
      env: embeddingEnv(port, tag, proxy.url),
      dataset: DATASET,
    });
    const cfg = directConfig(ctx.stack, h.env);
    const deps = createEmbeddingDeps(cfg);
    try {
      const items = h.dataset!.receipts.reduce(
        (n, r) => n + r.lines.length + r.lines.reduce((m, l) => m + l.words.length, 0),
        0,
      );
      await proxy.inject({ kind: 'reset' }, { afterRequests: 1, forMs: ctx.faultMs });
      const runId = uniqueId('fault-compact-');
      const started = Date.now();
      const handle = await h.client.workflow.start('embedBackfill', {
        taskQueue: h.cfg.TASK_QUEUE_PIPELINE,
        workflowId: runId,
        args: [{ runId }],
      });
      let runStatus = 'COMPLETED';
      const report = await within(
        `embedding ${runId}`,
        handle.result() as Promise<EmbeddingReport>,
        RUN_DEADLINE_MS,
      ).catch((err: Error) => {
        runStatus = `FAILED: ${err.message.slice(0, 120)}`;
        return undefined;
      });
      // Deltas are applied by the compactor after the backfill ends: wait until nothing is pending.
      const status = await waitFor(
        'embedding to settle',
        async () => {
          const s = await embedStatus(cfg, h.client);
          return s.pending === 0 &&
            s.deltasPending === 0 &&
            s.batchesOpen === 0 &&
            s.chroma + s.failed >= items
            ? s
            : undefined;
        },
        SETTLE_DEADLINE_MS,
        250,
      ).catch(() => embedStatus(cfg, h.client));
      const makespanMs = Date.now() - started;
      const requested = (await providerBatches(h.emulator.url)).reduce(
        (n, b) => n + b.request_counts.total,
        0,
      );
      const stats = proxy.stats();
      const succeeded = Math.min(status.embedded, status.chroma);
      return {
        fault: 'Chroma down mid-compaction (embedding)',
        items,
        succeeded,
        failedWithReason: status.failed,
        lost: items - succeeded - status.failed,
        extraProviderRequests: Math.max(0, requested - items),
        capHeld: true, // the Batch API takes no permits: nothing in flight to cap
        detail: {
          injected: `every connection to Chroma dropped for ${ctx.faultMs / 1000} s from the compactor's first Chroma request`,
          runStatus: `${report ? report.status : runStatus}; embedded ${status.embedded}, Chroma ${status.chroma}, deltas pending ${status.deltasPending}`,
          providerRequests: requested,
          cleanProviderRequests: items,
          inFlightAtFault: 0,
          cap: h.cfg.LLM_MAX_CONCURRENT_CALLS,
          inFlightMax: h.emulator.metrics().inFlightMax,
          proxy: { requests: stats.requests, faulted: stats.faulted.reset },
          makespanMs,
        },
      };
    } finally {
      await h.close();
      await new ChromaStore({ url: cfg.chromaUrl, prefix: cfg.CHROMA_COLLECTION_PREFIX })
        .deleteCollections()
        .catch(() => undefined);
      for (const key of await deps.objects.list(cfg.EMBED_S3_PREFIX).catch(() => []))
        await deps.objects.delete(key);
    }
  });
}
