// Process faults of `llm` workers, each a real child process (dev/harness/worker-process.ts):
// - one of two workers stopped (SIGSTOP) while holding permits, past its permit lease and the
//   activities' heartbeat timeout, then resumed (SIGCONT): the other takes over its slots and its
//   calls, the provider never sees more than the cap, the stopped calls are paid at most once more;
// - a worker killed (SIGKILL) between a paid provider answer and the activity's completion, with
//   the cache off: the retry reads the answer ledger instead of paying again.
//
// A limit the SIGSTOP scenario stays inside (provider latency 1.2 s, lease 10 s): a stopped process
// cannot abort its requests, so one whose provider request outlives its lease makes the provider
// see more than the cap once another worker takes the slot. Measured with latency 20 s: in flight
// max 4 with cap 3. The cap holds against a frozen worker only while LLM_PERMIT_LEASE_MS exceeds the
// provider's longest request (a killed worker's connections close, so the provider sees them end).
import { createDynamoClient } from '../src/stores/clients';
import { leaseEndForOthers, defaultSkewMarginMs } from '../src/llm/lease-keeper';
import { holderPid, readSlots, type SlotItem } from '../dev/harness/llm-layer';
import { startHarness, uniqueId, type Harness } from '../dev/harness/pipeline';
import { spawnWorker, waitForExit, type WorkerProcess } from '../dev/harness/worker-process';
import { waitFor, type FaultRow, type ScenarioContext } from './fault-common';
import { awaitEvaluation, rowCounts, startEvaluation, tallyEvaluation } from './fault-eval-run';

const RUN_DEADLINE_MS = 4 * 60_000;
/** LLM_PERMIT_LEASE_MS of the harness, and the llm activities' heartbeat timeout (shared.ts). */
const LEASE_MS = 10_000;
const HEARTBEAT_TIMEOUT_MS = 10_000;

/** Slots of the `llm` limiter held by process `pid` whose lease has not ended for others. */
async function liveSlotsOf(h: Harness, pid: number): Promise<SlotItem[]> {
  const slots = await readSlots(createDynamoClient(h.cfg), h.cfg.DYNAMODB_TABLE);
  const margin = defaultSkewMarginMs(LEASE_MS);
  return slots.filter(
    (s) => holderPid(s.holder) === pid && leaseEndForOthers(s.leaseUntil, margin) > Date.now(),
  );
}

async function stopPastLease(h: Harness, victim: WorkerProcess) {
  // Held permits with their requests at the provider: stop it there.
  await waitFor('the victim worker holding a permit with a call at the provider', async () =>
    (await liveSlotsOf(h, victim.pid)).length > 0 && h.emulator.metrics().inFlight > 0 ? true : undefined,
  );
  victim.kill('SIGSTOP');
  const stoppedAt = Date.now();
  // Read once stopped: a permit write it had sent lands by now; it takes none after.
  await new Promise((r) => setTimeout(r, 300));
  const held = await liveSlotsOf(h, victim.pid);
  const margin = defaultSkewMarginMs(LEASE_MS);
  const lapsed = Math.max(...held.map((s) => leaseEndForOthers(s.leaseUntil, margin)), stoppedAt);
  // Past every lease it held and the heartbeat timeout of its activities, with room for both.
  const resumeAt = Math.max(lapsed, stoppedAt + HEARTBEAT_TIMEOUT_MS) + 3000;
  await new Promise((r) => setTimeout(r, resumeAt - Date.now()));
  const takenOver = (await liveSlotsOf(h, victim.pid)).length === 0;
  victim.kill('SIGCONT');
  return { held: held.length, stoppedMs: Date.now() - stoppedAt, takenOver };
}

export async function llmWorkerStoppedPastLease(_ctx: ScenarioContext): Promise<FaultRow> {
  const CAP = 3;
  const REVIEW_CHUNK_SIZE = 8;
  const h = await startHarness({
    queues: ['pipeline'],
    emulator: { latencyMs: 1200, jitterMs: 100, accuracy: 1 },
    env: { LLM_MAX_CONCURRENT_CALLS: String(CAP), LLM_PERMIT_LEASE_MS: String(LEASE_MS) },
    dataset: { merchants: 2, receiptsPerMerchant: 8, seed: 31 },
  });
  const victim = spawnWorker(h.env, ['llm']);
  const other = spawnWorker(h.env, ['llm']);
  try {
    await Promise.all([victim.ready, other.ready]);
    const runId = uniqueId('fault-stop-');
    const started = Date.now();
    const handle = await startEvaluation(h, { runId, reviewChunkSize: REVIEW_CHUNK_SIZE });
    const stop = await stopPastLease(h, victim);
    const { report, runStatus } = await awaitEvaluation(handle, RUN_DEADLINE_MS);
    const makespanMs = Date.now() - started;
    const tally = await tallyEvaluation(h, runId, REVIEW_CHUNK_SIZE);
    const m = h.emulator.metrics();
    const survived = victim.alive() && other.alive();
    return {
      fault: 'llm worker stopped (SIGSTOP) past its permit lease',
      ...rowCounts(tally, m, CAP),
      detail: {
        injected: `SIGSTOP of one of two llm worker processes holding ${stop.held} permit(s), for ${(stop.stoppedMs / 1000).toFixed(1)} s (lease ${LEASE_MS / 1000} s, heartbeat timeout ${HEARTBEAT_TIMEOUT_MS / 1000} s), then SIGCONT; slots taken over meanwhile: ${stop.takenOver ? 'yes' : 'no'}; both workers alive after: ${survived ? 'yes' : 'no'}`,
        runStatus: report?.status ?? runStatus,
        providerRequests: m.requests,
        cleanProviderRequests: tally.cleanProviderRequests,
        inFlightAtFault: stop.held,
        cap: CAP,
        inFlightMax: m.inFlightMax,
        proxy: { requests: 0, faulted: 0 },
        makespanMs,
      },
    };
  } finally {
    victim.kill('SIGCONT');
    victim.kill('SIGKILL');
    other.kill('SIGKILL');
    await Promise.all([victim.exited, other.exited]);
    await h.close();
  }
}

export async function llmWorkerKilledAfterAnswer(_ctx: ScenarioContext): Promise<FaultRow> {
  const CAP = 2;
  // One chunk a receipt: a receipt's activity makes one call, so one is in flight when it dies.
  const REVIEW_CHUNK_SIZE = 200;
  const h = await startHarness({
    queues: ['pipeline'],
    emulator: { accuracy: 1, latencyMs: 50 },
    env: { LLM_MAX_CONCURRENT_CALLS: String(CAP) },
    dataset: { merchants: 1, receiptsPerMerchant: 4, seed: 11 },
  });
  // Dies by its own SIGKILL right after its first paid answer, one activity at a time.
  const crashing = spawnWorker(h.env, ['llm'], 'dev/harness/llm-worker-crash-after-answer.ts');
  let survivor: WorkerProcess | undefined;
  try {
    await crashing.ready;
    const runId = uniqueId('fault-kill-');
    const started = Date.now();
    const handle = await startEvaluation(h, { runId, reviewChunkSize: REVIEW_CHUNK_SIZE, noCache: true });
    const ended = await waitForExit(crashing, RUN_DEADLINE_MS);
    // Its attempt is retried, after the heartbeat timeout, by a worker that lives.
    survivor = spawnWorker(h.env, ['llm']);
    await survivor.ready;
    const { report, runStatus } = await awaitEvaluation(handle, RUN_DEADLINE_MS);
    const makespanMs = Date.now() - started;
    const tally = await tallyEvaluation(h, runId, REVIEW_CHUNK_SIZE);
    const m = h.emulator.metrics();
    return {
      fault: 'llm worker killed (kill -9) between a provider answer and the activity completion, --no-cache',
      ...rowCounts(tally, m, CAP),
      detail: {
        injected: `SIGKILL of the only llm worker right after its first paid answer (it ended by ${ended?.signal ?? `exit ${String(ended?.code)}`}); a fresh worker started after`,
        runStatus: report?.status ?? runStatus,
        providerRequests: m.requests,
        cleanProviderRequests: tally.cleanProviderRequests,
        inFlightAtFault: 1,
        cap: CAP,
        inFlightMax: m.inFlightMax,
        proxy: { requests: 0, faulted: 0 },
        makespanMs,
      },
    };
  } finally {
    crashing.kill('SIGKILL');
    survivor?.kill('SIGKILL');
    await Promise.all([crashing.exited, survivor?.exited]);
    await h.close();
  }
}
