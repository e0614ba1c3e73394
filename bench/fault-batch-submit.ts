// Fault scenario: the pipeline worker process killed (kill -9) between the provider's
// `batches.create` and the recorded SUBMITTED state. A small pass-through proxy in front of the
// emulator's OpenAI API forwards the first `POST /v1/batches` (the batch now exists at the
// provider), then kills the worker before the answer reaches it; a fresh worker process retries
// the submit. It must find the batch it created instead of paying for a second one.
import http from 'node:http';
import type net from 'node:net';
import type { EmbeddingReport } from '../src/activities/embed';
import { embedStatus } from '../src/cli/embed';
import { createEmbeddingDeps } from '../src/deps';
import { ChromaStore } from '../src/stores/chroma';
import { startHarness, freePort, uniqueId } from '../test/helpers/pipeline';
import { spawnWorker, type WorkerProcess } from '../test/helpers/worker-process';
import { providerBatches } from './fault-embedding';
import { directConfig, waitFor, within, type FaultRow, type ScenarioContext } from './fault-common';

const DATASET = { merchants: 1, receiptsPerMerchant: 5, seed: 8 };
const MAX_REQUESTS = 150;
const RUN_DEADLINE_MS = 3 * 60_000;
const SETTLE_DEADLINE_MS = 120_000;

/**
 * Forwards every request to `target` unchanged; the first `POST /v1/batches` is forwarded, its
 * answer held back, `onCreated` run, and the client's connection dropped instead of answered.
 */
async function interceptFirstBatchCreate(target: string, onCreated: () => Promise<void>) {
  let fired = false;
  const server = http.createServer((req, res) => {
    const up = http.request(
      `${target}${req.url ?? '/'}`,
      { method: req.method, headers: req.headers },
      (answer) => {
        const chunks: Buffer[] = [];
        answer.on('data', (c: Buffer) => chunks.push(c));
        answer.on('end', () => {
          const isCreate = req.method === 'POST' && (req.url ?? '').split('?')[0] === '/v1/batches';
          if (isCreate && !fired && answer.statusCode === 200) {
            fired = true;
            void onCreated().finally(() => res.destroy());
            return;
          }
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          res.end(Buffer.concat(chunks));
        });
      },
    );
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    fired: () => fired,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export async function pipelineWorkerKilledAfterBatchCreate(ctx: ScenarioContext): Promise<FaultRow> {
  const port = await freePort();
  const tag = uniqueId('fb');
  let victim: WorkerProcess | undefined;
  const proxy = await interceptFirstBatchCreate(`http://127.0.0.1:${port}`, async () => {
    victim?.kill('SIGKILL');
    await victim?.exited;
  });
  const h = await startHarness({
    queues: [],
    emulator: { port, batchCompleteAfterS: 2, embeddingDim: 64 },
    env: {
      OPENAI_BASE_URL: `${proxy.url}/v1`,
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
  let survivor: WorkerProcess | undefined;
  try {
    victim = spawnWorker(h.env, ['pipeline']);
    await victim.ready;
    const items = h.dataset!.receipts.reduce(
      (n, r) => n + r.lines.length + r.lines.reduce((m, l) => m + l.words.length, 0),
      0,
    );
    const runId = uniqueId('fault-submit-');
    const started = Date.now();
    const handle = await h.client.workflow.start('embedBackfill', {
      taskQueue: h.cfg.TASK_QUEUE_PIPELINE,
      workflowId: runId,
      args: [{ runId }],
    });
    const ended = await within(
      'the worker killed after the first batches.create',
      victim.exited,
      RUN_DEADLINE_MS,
    );
    survivor = spawnWorker(h.env, ['pipeline']);
    await survivor.ready;
    let runStatus = 'COMPLETED';
    const report = await within(
      `embedding ${runId}`,
      handle.result() as Promise<EmbeddingReport>,
      RUN_DEADLINE_MS,
    ).catch((err: Error) => {
      runStatus = `FAILED: ${err.message.slice(0, 120)}`;
      return undefined;
    });
    const status = await waitFor(
      'embedding to settle',
      async () => {
        const s = await embedStatus(cfg, h.client);
        return s.pending === 0 && s.deltasPending === 0 && s.batchesOpen === 0 && s.chroma + s.failed >= items
          ? s
          : undefined;
      },
      SETTLE_DEADLINE_MS,
      250,
    ).catch(() => embedStatus(cfg, h.client));
    const makespanMs = Date.now() - started;
    const batches = await providerBatches(h.emulator.url);
    const requested = batches.reduce((n, b) => n + b.request_counts.total, 0);
    const succeeded = Math.min(status.embedded, status.chroma);
    return {
      fault: 'pipeline worker killed (kill -9) between batches.create and the recorded SUBMITTED',
      items,
      succeeded,
      failedWithReason: status.failed,
      lost: items - succeeded - status.failed,
      extraProviderRequests: Math.max(0, requested - items),
      capHeld: true, // the Batch API takes no permits: nothing in flight to cap
      detail: {
        injected: `SIGKILL of the only pipeline worker once the provider created the first batch, before its answer reached the worker (it ended by ${ended.signal ?? `exit ${String(ended.code)}`}); a fresh worker started after; provider batches ${batches.length}`,
        runStatus: `${report ? report.status : runStatus}; embedded ${status.embedded}, Chroma ${status.chroma}, deltas pending ${status.deltasPending}`,
        providerRequests: requested,
        cleanProviderRequests: items,
        inFlightAtFault: 0,
        cap: h.cfg.LLM_MAX_CONCURRENT_CALLS,
        inFlightMax: h.emulator.metrics().inFlightMax,
        proxy: { requests: 0, faulted: proxy.fired() ? 1 : 0 },
        makespanMs,
      },
    };
  } finally {
    victim?.kill('SIGKILL');
    survivor?.kill('SIGKILL');
    await Promise.all([victim?.exited, survivor?.exited]);
    await h.close();
    await proxy.close();
    await new ChromaStore({ url: cfg.chromaUrl, prefix: cfg.CHROMA_COLLECTION_PREFIX })
      .deleteCollections()
      .catch(() => undefined);
    const objects = createEmbeddingDeps(cfg).objects;
    for (const key of await objects.list(cfg.EMBED_S3_PREFIX).catch(() => [])) await objects.delete(key);
  }
}
