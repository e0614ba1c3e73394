// The waiting phases of a backfill: for its poll workflows to settle their batches, then for its
// deltas to reach Chroma. A long wait continues as new (patched 'embed-wait-continue-as-new') after
// `waitsPerRun` wake-ups or when Temporal suggests it, so the history stays bounded (issue 13).
import { condition, patched, sleep, workflowInfo } from '@temporalio/workflow';
import { DEFAULT_WAITS_PER_RUN, nextPollDelay } from '../../domain/embedding';
import type { Backfill } from './backfill-state';
import { io } from './options';
import { DELTA_WAIT_MAX_MS, reviveClosedPollers, startDeltaWait, waitForRunDeltas } from './repair';
import { startPoller } from './backfill-submit';

export const WAIT_CONTINUE_AS_NEW_PATCH = 'embed-wait-continue-as-new';

/**
 * After each wake-up of a wait: true when this run has woken `waitsPerRun` times or Temporal
 * suggests continuing as new. Histories from before the patch keep waiting in one run.
 */
export function waitedLongEnough(b: Backfill): boolean {
  const bound = b.s.waitsPerRun ?? DEFAULT_WAITS_PER_RUN;
  return (
    (++b.waitsThisRun >= bound || workflowInfo().continueAsNewSuggested) &&
    patched(WAIT_CONTINUE_AS_NEW_PATCH)
  );
}

/** The pollers' signals are not trusted alone: settled batch records are read, closed pollers revived. */
async function reconcile(b: Backfill): Promise<void> {
  const { c, s, pending } = b;
  // A poller's signal may have been lost (e.g. sent while this run continued as new).
  for (const o of await io.embeddingBatchOutcomes({ batchKeys: [...pending] })) b.settle(o);
  if (pending.size > 0 && patched('embed-restart-closed-pollers')) {
    await reviveClosedPollers(b.repair, s, pending, (c.pollerRestarts ??= {}), {
      restart: (batchKey) => startPoller(batchKey, b.runId, s),
      settle: b.settle,
      fail: (itemId, reason) => c.failures.push({ itemId, reason }),
    });
  }
}

/** Waits until every batch this backfill submitted is settled. */
export async function waitForBatches(b: Backfill): Promise<void> {
  const { pending } = b;
  while (pending.size > 0) {
    const settled = await condition(
      () => pending.size === 0 || workflowInfo().continueAsNewSuggested,
      b.s.reconcileMs,
    );
    if (!settled) await reconcile(b);
    else if (pending.size > 0) await b.carryOn();
    if (pending.size > 0 && waitedLongEnough(b)) await b.carryOn();
  }
}

/** Waits until the run's vectors are in Chroma (a delta that failed meanwhile is redriven). */
export async function waitForDeltas(b: Backfill): Promise<void> {
  const { c, s, runId } = b;
  if (patched('embed-redrive-failed-deltas')) {
    const w = (c.deltaWait ??= startDeltaWait(s));
    if ((await waitForRunDeltas(b.repair, s, runId, w, () => waitedLongEnough(b))) === 'carry-on')
      await b.carryOn();
    return;
  }
  // Histories from before the redrive: the wait as it was then.
  let delay = Math.min(s.pollInitialMs, DELTA_WAIT_MAX_MS);
  for (let i = 0; (await io.countPendingEmbeddingDeltas({ runId })) > 0; i++) {
    if (i % 10 === 0)
      await b.acts.control.requestEmbeddingCompaction({ compactorId: s.compactorId, reason: runId });
    await sleep(delay);
    delay = nextPollDelay(delay, s.pollBackoff, DELTA_WAIT_MAX_MS);
  }
}
