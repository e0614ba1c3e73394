// Workflow steps that keep embeddings from being lost (issue 13): FAILED deltas are redriven until
// this run's vectors are in Chroma, closed poll workflows are restarted, and PENDING items a dead
// run left behind are swept before a backfill submits. Each caller puts its step behind patched().
import { sleep } from '@temporalio/workflow';
import type { Activities } from '../../activities';
import { nextPollDelay, type EmbedSettings } from '../../domain/embedding';
import type { BatchOutcome } from '../../stores/embeddings';
import { errorMessage } from '../shared';

/** The activities the repair steps call. */
export type RepairActs = Pick<
  Activities,
  | 'redriveFailedEmbeddingDeltas'
  | 'requestEmbeddingCompaction'
  | 'countPendingEmbeddingDeltas'
  | 'closedEmbeddingPollers'
  | 'releaseEmbeddingBatch'
  | 'sweepStaleEmbeddingItems'
>;

/** Lifetime cap of one delta's redrives (each follows a whole retry budget of the compactor). */
export const MAX_DELTA_REDRIVES = 20;
/** Redrive passes one backfill makes while it waits for its own deltas. */
export const REDRIVE_PASSES_PER_RUN = 5;
/** Times a backfill restarts the poll workflow of one batch before it gives the batch up. */
export const MAX_POLLER_RESTARTS = 3;
/** Longest pause between two looks at a run's pending deltas. */
export const DELTA_WAIT_MAX_MS = 5_000;

/** Redrives every FAILED delta (any run) and asks the compactor to apply them; how many it redrove. */
export async function redriveFailedDeltas(
  acts: RepairActs,
  s: EmbedSettings,
  reason: string,
): Promise<number> {
  const { redriven } = await acts.redriveFailedEmbeddingDeltas({ maxRedrives: MAX_DELTA_REDRIVES });
  if (redriven > 0) await acts.requestEmbeddingCompaction({ compactorId: s.compactorId, reason });
  return redriven;
}

/** Where a backfill is in waiting for its deltas (carried across continue-as-new). */
export interface DeltaWait {
  /** Redrive passes made. */
  pass: number;
  /** Looks at the pending deltas in this pass. */
  looks: number;
  delayMs: number;
}

export function startDeltaWait(s: EmbedSettings): DeltaWait {
  return { pass: 0, looks: 0, delayMs: Math.min(s.pollInitialMs, DELTA_WAIT_MAX_MS) };
}

/**
 * Waits until no delta of the run is pending; a delta that failed meanwhile (e.g. Chroma was down
 * for the compactor's whole retry budget) is redriven and waited for again, a few passes at most.
 * After each pause `carryOn()` may stop the wait ('carry-on': continue as new and resume from `w`).
 */
export async function waitForRunDeltas(
  acts: RepairActs,
  s: EmbedSettings,
  runId: string,
  w: DeltaWait = startDeltaWait(s),
  carryOn: () => boolean = () => false,
): Promise<'done' | 'carry-on'> {
  for (; w.pass < REDRIVE_PASSES_PER_RUN; w.pass++, w.looks = 0) {
    while ((await acts.countPendingEmbeddingDeltas({ runId })) > 0) {
      if (w.looks % 10 === 0)
        await acts.requestEmbeddingCompaction({ compactorId: s.compactorId, reason: runId });
      await sleep(w.delayMs);
      w.delayMs = nextPollDelay(w.delayMs, s.pollBackoff, DELTA_WAIT_MAX_MS);
      w.looks++;
      if (carryOn()) return 'carry-on';
    }
    if ((await redriveFailedDeltas(acts, s, `${runId}: redrive`)) === 0) return 'done';
    await sleep(w.delayMs);
  }
  return 'done';
}

/** Before a backfill submits: redrive FAILED deltas, sweep PENDING items a dead run left behind. */
export async function repairBeforeSubmit(
  acts: RepairActs,
  s: EmbedSettings,
  runId: string,
): Promise<Array<{ itemId: string; reason: string }>> {
  try {
    await redriveFailedDeltas(acts, s, `${runId}: redrive`);
    await acts.sweepStaleEmbeddingItems({ runId, maxAttempts: s.maxAttempts });
    return [];
  } catch (err) {
    // A repair that cannot run now is recorded; the next run tries again. This run still submits.
    return [{ itemId: `${runId}/repair`, reason: `repair before submit failed: ${errorMessage(err)}` }];
  }
}

/**
 * A poll workflow that closed without settling its batch (failed, terminated, timed out) leaves its
 * backfill waiting: restart it (its output is read, not paid again), up to MAX_POLLER_RESTARTS
 * times; then give the batch up with the reason, so the backfill ends.
 */
export async function reviveClosedPollers(
  acts: RepairActs,
  s: EmbedSettings,
  pending: ReadonlySet<string>,
  restarts: Record<string, number>,
  handlers: {
    restart: (batchKey: string) => Promise<void>;
    settle: (o: BatchOutcome) => void;
    fail: (batchKey: string, reason: string) => void;
  },
): Promise<void> {
  for (const batchKey of await acts.closedEmbeddingPollers({ batchKeys: [...pending] })) {
    const n = restarts[batchKey] ?? 0;
    if (n < MAX_POLLER_RESTARTS) {
      restarts[batchKey] = n + 1;
      await handlers.restart(batchKey);
      continue;
    }
    const reason = `poll workflow closed ${n + 1} times without settling the batch`;
    handlers.fail(batchKey, reason);
    handlers.settle(
      await acts.releaseEmbeddingBatch({
        batchKey,
        reason,
        finalStatus: 'unknown',
        maxAttempts: s.maxAttempts,
      }),
    );
  }
}
