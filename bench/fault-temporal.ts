// Fault scenario: the Temporal dev server killed (kill -9 of its process group) mid-evaluation and
// started again on the same SQLite file (`stackUp --only temporal`), so its history survives. The
// worker is a real child process that must reconnect by itself; the run must complete, none lost.
import { isPortFree, isProcessAlive, readPidRecord } from '../dev/stack/process';
import { stackUp } from '../dev/stack/stack';
import { createStores } from '../src/deps';
import { startHarness, uniqueId } from '../dev/harness/pipeline';
import { spawnWorker } from '../dev/harness/worker-process';
import { waitFor, type FaultRow, type ScenarioContext } from './fault-common';
import { awaitEvaluation, rowCounts, startEvaluation, tallyEvaluation } from './fault-eval-run';

const CAP = 4;
const REVIEW_CHUNK_SIZE = 8;
const RUN_DEADLINE_MS = 5 * 60_000;

/** kill -9 of the stack's Temporal server (its whole process group); resolves once its port is free. */
async function killTemporal(ctx: ScenarioContext): Promise<number> {
  const rec = readPidRecord(ctx.stack.dataDir, 'temporal');
  if (!rec || !isProcessAlive(rec.pid, rec.procStartTicks))
    throw new Error(`the stack's Temporal server is not running (no live pid in ${ctx.stack.dataDir}/pids)`);
  process.kill(-rec.pid, 'SIGKILL');
  await waitFor(
    'the killed Temporal server to free its port',
    async () =>
      !isProcessAlive(rec.pid, rec.procStartTicks) && (await isPortFree(ctx.stack.TEMPORAL_PORT))
        ? true
        : undefined,
    30_000,
    100,
  );
  return rec.pid;
}

export async function temporalKilledAndRestarted(ctx: ScenarioContext): Promise<FaultRow> {
  const h = await startHarness({
    queues: [],
    emulator: { latencyMs: 300, jitterMs: 50, accuracy: 1 },
    env: { LLM_MAX_CONCURRENT_CALLS: String(CAP) },
    dataset: { merchants: 2, receiptsPerMerchant: 10, seed: 41 },
  });
  const worker = spawnWorker(h.env, ['pipeline', 'llm']);
  try {
    await worker.ready;
    const runId = uniqueId('fault-temporal-');
    const stores = createStores(h.cfg);
    const started = Date.now();
    const handle = await startEvaluation(h, { runId, reviewChunkSize: REVIEW_CHUNK_SIZE });
    const inFlightAtFault = await waitFor('a partly done evaluation with LLM calls in flight', async () => {
      const done = (await stores.runs.listResults(runId)).length;
      const inFlight = h.emulator.metrics().inFlight;
      return done >= 2 && inFlight >= 1 ? inFlight : undefined;
    });
    const doneAtFault = (await stores.runs.listResults(runId)).length;
    const killedPid = await killTemporal(ctx);
    const downFrom = Date.now();
    await new Promise((r) => setTimeout(r, ctx.faultMs));
    await stackUp(ctx.stack, { only: ['temporal'] });
    const downMs = Date.now() - downFrom;
    const { report, runStatus } = await awaitEvaluation(handle, RUN_DEADLINE_MS);
    const makespanMs = Date.now() - started;
    const tally = await tallyEvaluation(h, runId, REVIEW_CHUNK_SIZE);
    const m = h.emulator.metrics();
    return {
      fault: 'Temporal server killed (kill -9) and restarted mid-run',
      ...rowCounts(tally, m, CAP),
      detail: {
        injected: `kill -9 of the Temporal dev server (pid ${killedPid}) with ${doneAtFault} receipts done, down ${(downMs / 1000).toFixed(1)} s, restarted on the same SQLite file; worker process alive after: ${worker.alive() ? 'yes' : `no (${worker.output().slice(-300)})`}`,
        runStatus: report?.status ?? runStatus,
        providerRequests: m.requests,
        cleanProviderRequests: tally.cleanProviderRequests,
        inFlightAtFault,
        cap: CAP,
        inFlightMax: m.inFlightMax,
        proxy: { requests: 0, faulted: 0 },
        makespanMs,
      },
    };
  } finally {
    worker.kill('SIGKILL');
    await worker.exited;
    await h.close();
    // Whatever happened above, leave the stack with a running Temporal server.
    await stackUp(ctx.stack, { only: ['temporal'] });
  }
}
