// The submitting phase of a backfill: one batch after another per kind, each with its poll workflow,
// until nothing is left to claim; continues as new every BATCHES_PER_RUN batches.
import {
  ApplicationFailure,
  ParentClosePolicy,
  patched,
  sleep,
  startChild,
  workflowInfo,
} from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import type { SubmitEmbeddingBatchResult } from '../../activities/embed';
import { batchKeyOf, type EmbedKind, type EmbedSettings } from '../../domain/embedding';
import { RUN_BREAKER_PATCH, runStoppingFailure } from '../run-breaker';
import { PipelineKey, RunIdKey, errorMessage } from '../shared';
import type { Backfill } from './backfill-state';
import { pollEmbeddingBatch } from './poll-batch';

/** Batches one backfill run starts before it continues as new (its history stays small). */
const BATCHES_PER_RUN = 200;
/** A kind whose listed candidates cannot be claimed this many times in a row is left for later. */
const MAX_EMPTY_STREAK = 3;
const EMPTY_RETRY_MS = 1_000;

/** Starts the batch's poll workflow; it is abandoned, not cancelled, when the backfill ends. */
export async function startPoller(batchKey: string, runId: string, settings: EmbedSettings): Promise<void> {
  try {
    await startChild(pollEmbeddingBatch, {
      workflowId: `embed-poll/${batchKey}`,
      args: [{ batchKey, settings, parentWorkflowId: workflowInfo().workflowId }],
      parentClosePolicy: ParentClosePolicy.ABANDON,
      typedSearchAttributes: [
        { key: RunIdKey, value: runId },
        { key: PipelineKey, value: 'embed' },
      ],
    });
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
  }
}

/**
 * The provider refused the submission for good (or retries ran out): give the claimed items back,
 * record why, and submit nothing more in this run. Refused for our credentials: nothing this run
 * does can succeed, so it fails with why.
 */
async function giveUpSubmission(b: Backfill, kind: EmbedKind, seq: number, err: unknown): Promise<void> {
  const { c, s } = b;
  const batchKey = batchKeyOf(b.runId, kind, seq);
  const reason = errorMessage(err);
  c.failures.push({ itemId: batchKey, reason });
  c.stopped = true;
  try {
    const o = await b.acts.data.releaseEmbeddingBatch({
      batchKey,
      reason: `not submitted: ${reason}`,
      finalStatus: 'not_submitted',
      maxAttempts: s.maxAttempts,
    });
    c.stats.failed += o.failed;
    c.stats.released += o.released;
  } catch {
    // No batch record was written: no item was claimed.
  }
  const stopping = runStoppingFailure(err);
  if (stopping && patched(RUN_BREAKER_PATCH))
    throw ApplicationFailure.nonRetryable(stopping.message, stopping.type);
}

/** What a submission found: a batch to poll, nothing left of its kind, or items held elsewhere. */
async function onSubmitted(b: Backfill, r: SubmitEmbeddingBatchResult): Promise<void> {
  const { c } = b;
  if (r.state === 'SUBMITTED') {
    c.emptyStreak = 0;
    c.stats.batches++;
    c.stats.submitted += r.itemCount;
    b.pending.add(r.batchKey);
    await startPoller(r.batchKey, b.runId, b.s);
    b.startedThisRun++;
  } else if (r.candidates === 0 || ++c.emptyStreak > MAX_EMPTY_STREAK) {
    // Nothing of this kind is left to embed (or what is listed cannot be claimed: held by
    // another run while the index catches up); the next round or run looks again.
    c.kindIndex++;
    c.emptyStreak = 0;
  } else {
    // Listed but not claimable right now (another run holds them, or they could not be embedded).
    await sleep(EMPTY_RETRY_MS);
  }
}

/** Submits batches of each kind in turn until none is left (or a submission is refused). */
export async function submitAll(b: Backfill): Promise<void> {
  const { c, s } = b;
  while (c.kindIndex < b.kinds.length && !c.stopped) {
    const kind = b.kinds[c.kindIndex]!;
    const seq = c.seq++;
    let r: SubmitEmbeddingBatchResult;
    try {
      r = await b.acts.control.submitEmbeddingBatch({
        runId: b.runId,
        kind,
        seq,
        model: s.model,
        maxRequests: s.maxRequestsPerBatch,
        maxBytes: s.maxBytesPerBatch,
        ...(b.input.redriveOf ? { redrive: true } : {}),
      });
    } catch (err) {
      await giveUpSubmission(b, kind, seq, err);
      break;
    }
    await onSubmitted(b, r);
    if (b.startedThisRun >= BATCHES_PER_RUN || workflowInfo().continueAsNewSuggested) await b.carryOn();
  }
}
