// Fault scenario: S3 down (every connection dropped, counted) mid-embedding, from the first batch at the provider:
// batch outputs, deltas and the compactor's reads all meet the outage.
import type { EmbeddingReport } from '../src/activities/embed';
import { embedStatus } from '../src/cli/embed';
import { createEmbeddingDeps } from '../src/deps';
import { ChromaStore } from '../src/stores/chroma';
import { startHarness, freePort, uniqueId } from '../test/helpers/pipeline';
import {
  directConfig,
  waitFor,
  within,
  withProxy,
  type FaultRow,
  type ScenarioContext,
} from './fault-common';

const DATASET = { merchants: 1, receiptsPerMerchant: 5, seed: 5 };
const MAX_REQUESTS = 150;
const RUN_DEADLINE_MS = 3 * 60_000;
const SETTLE_DEADLINE_MS = 90_000;

export async function s3DownMidEmbedding(ctx: ScenarioContext): Promise<FaultRow> {
  return withProxy(ctx.stack.s3Endpoint, async (proxy) => {
    const port = await freePort();
    const tag = uniqueId('fe');
    const h = await startHarness({
      queues: ['pipeline'],
      emulator: { port, batchCompleteAfterS: 2, embeddingDim: 64 },
      env: {
        S3_ENDPOINT: proxy.url,
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
      },
      dataset: DATASET,
    });
    const cfg = directConfig(ctx.stack, h.env);
    const deps = createEmbeddingDeps(cfg);
    try {
      const receipts = h.dataset!.receipts;
      const items = receipts.reduce(
        (n, r) => n + r.lines.length + r.lines.reduce((m, l) => m + l.words.length, 0),
        0,
      );
      const runId = uniqueId('fault-s3-');
      const started = Date.now();
      const handle = await h.client.workflow.start('embedBackfill', {
        taskQueue: h.cfg.TASK_QUEUE_PIPELINE,
        workflowId: runId,
        args: [{ runId }],
      });
      await waitFor('the first embedding batch at the provider', async () =>
        (await providerBatches(h.emulator.url)).length >= 1 ? true : undefined,
      );
      await proxy.inject({ kind: 'reset' }, { forMs: ctx.faultMs });
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
            s.compactor.status !== 'RUNNING'
            ? s
            : undefined;
        },
        SETTLE_DEADLINE_MS,
        250,
      ).catch(() => embedStatus(cfg, h.client));
      const makespanMs = Date.now() - started;
      const batches = await providerBatches(h.emulator.url);
      const requested = batches.reduce((n, b) => n + b.request_counts.total, 0);
      const stats = proxy.stats();
      const failedWithReason = status.failed; // FAILED items carry embeddingFailureReason
      return {
        fault: 'S3 down mid-embedding',
        items,
        // Embedded and in Chroma: an item counted SUCCESS whose vector never reached Chroma is lost.
        succeeded: Math.min(status.embedded, status.chroma),
        failedWithReason,
        lost: items - Math.min(status.embedded, status.chroma) - failedWithReason,
        extraProviderRequests: Math.max(0, requested - items),
        capHeld: true, // the Batch API takes no permits: nothing in flight to cap
        detail: {
          injected: `every connection to S3 dropped for ${ctx.faultMs / 1000} s from the first batch submitted`,
          runStatus: `${report ? report.status : runStatus}; Chroma ${status.chroma}, deltas pending ${status.deltasPending}`,
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

/** Batches the emulator was asked to create, with their request counts (all pages). */
export async function providerBatches(emulatorUrl: string) {
  const out: Array<{ id: string; request_counts: { total: number } }> = [];
  let after: string | undefined;
  for (;;) {
    const res = await fetch(`${emulatorUrl}/v1/batches?limit=100${after ? `&after=${after}` : ''}`);
    const page = (await res.json()) as { data: typeof out; has_more: boolean };
    out.push(...page.data);
    if (!page.has_more || page.data.length === 0) return out;
    after = page.data[page.data.length - 1]!.id;
  }
}
