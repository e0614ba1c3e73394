// Fault scenario: the pipeline worker process killed (kill -9) between the provider's
// `batches.create` and the recorded SUBMITTED state. A small pass-through proxy in front of the
// emulator's OpenAI API forwards the first `POST /v1/batches` (the batch now exists at the
// provider), then kills the worker before the answer reaches it; a fresh worker process retries
// the submit. It must find the batch it created instead of paying for a second one.
import http from 'node:http';
import type net from 'node:net';
import { freePort } from '../dev/harness/pipeline';
import { spawnWorker, type WorkerProcess } from '../dev/harness/worker-process';
import { embeddingRow, startEmbeddingFaultRun, within } from './fault-common';
import type { FaultRow, ScenarioContext } from './fault-common';

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
  let victim: WorkerProcess | undefined;
  const proxy = await interceptFirstBatchCreate(`http://127.0.0.1:${port}`, async () => {
    victim?.kill('SIGKILL');
    await victim?.exited;
  });
  const run = await startEmbeddingFaultRun(ctx, {
    seed: 8,
    queues: [],
    port,
    openaiBaseUrl: `${proxy.url}/v1`,
  });
  let survivor: WorkerProcess | undefined;
  try {
    victim = spawnWorker(run.h.env, ['pipeline']);
    await victim.ready;
    const started = await run.start('fault-submit-');
    const ended = await within(
      'the worker killed after the first batches.create',
      victim.exited,
      RUN_DEADLINE_MS,
    );
    survivor = spawnWorker(run.h.env, ['pipeline']);
    await survivor.ready;
    const outcome = await run.finish(started, {
      runDeadlineMs: RUN_DEADLINE_MS,
      settleMs: SETTLE_DEADLINE_MS,
    });
    return embeddingRow(run, outcome, {
      fault: 'pipeline worker killed (kill -9) between batches.create and the recorded SUBMITTED',
      injected: `SIGKILL of the only pipeline worker once the provider created the first batch, before its answer reached the worker (it ended by ${ended.signal ?? `exit ${String(ended.code)}`}); a fresh worker started after; provider batches ${outcome.batches}`,
      proxy: { requests: 0, faulted: proxy.fired() ? 1 : 0 },
    });
  } finally {
    victim?.kill('SIGKILL');
    survivor?.kill('SIGKILL');
    await Promise.all([victim?.exited, survivor?.exited]);
    await run.close();
    await proxy.close();
  }
}
