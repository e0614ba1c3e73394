// pollEmbeddingBatch: one per batch, outlives its backfill (it may live the batch's 24 h); polls
// with durable timers, turns the results into an S3 delta, and tells its backfill the outcome.
import {
  continueAsNew,
  getExternalWorkflowHandle,
  patched,
  setHandler,
  sleep,
  workflowInfo,
} from '@temporalio/workflow';
import type { BatchCheck } from '../../activities/embed';
import { isFinalBatchStatus, nextPollDelay, type EmbedSettings } from '../../domain/embedding';
import type { BatchOutcome } from '../../stores/embeddings';
import { errorMessage, isNonRetryable } from '../shared';
import { batchDoneSignal, pollProgressQuery } from './messages';
import { embedProxies } from './options';

export interface PollEmbeddingBatchInput {
  batchKey: string;
  settings: EmbedSettings;
  /** Workflow to signal with the outcome (the backfill); it may have ended or continued as new. */
  parentWorkflowId?: string;
  carry?: PollCarry;
}

interface PollCarry {
  polls: number;
  delayMs: number;
  runs: number;
  startedAt: number;
  failingSince?: number;
  /** Since when processing the batch's output fails (its output is re-read, not resubmitted). */
  processFailingSince?: number;
}

export interface PollEmbeddingBatchResult extends BatchOutcome {
  polls: number;
  /** Runs of this workflow (1 + continue-as-new count). */
  runs: number;
  startedAt: number;
  finishedAt: number;
}

/** One poll workflow's run: its batch, settings, activities and carried state. */
interface Poller {
  input: PollEmbeddingBatchInput;
  s: EmbedSettings;
  c: PollCarry;
  acts: ReturnType<typeof embedProxies>;
  release: (reason: string, finalStatus: string) => Promise<BatchOutcome>;
}

/**
 * One look at the batch: its check, or the outcome of a batch the provider does not know (its items
 * go back to be resubmitted) or that stayed unreachable for `pollGiveUpMs`.
 */
async function checkBatch(p: Poller): Promise<{ check?: BatchCheck; outcome?: BatchOutcome }> {
  const { c, s } = p;
  try {
    const check = await p.acts.control.checkEmbeddingBatch({ batchKey: p.input.batchKey });
    c.failingSince = undefined;
    return { check };
  } catch (err) {
    if (isNonRetryable(err))
      return { outcome: await p.release(`batch cannot be checked: ${errorMessage(err)}`, 'unknown') };
    c.failingSince ??= Date.now();
    if (Date.now() - c.failingSince > s.pollGiveUpMs)
      return {
        outcome: await p.release(
          `batch unreachable since ${new Date(c.failingSince).toISOString()}`,
          'unknown',
        ),
      };
    return {};
  }
}

/** A batch in a final status: its results processed, or its items released; undefined: read again later. */
async function settleFinalBatch(p: Poller, check: BatchCheck): Promise<BatchOutcome | undefined> {
  const { c, s } = p;
  if (check.status === 'failed')
    return p.release(`batch failed: ${check.errors.join('; ') || 'no reason given'}`, 'failed');
  try {
    return await p.acts.data.processEmbeddingBatch({
      batchKey: p.input.batchKey,
      maxAttempts: s.maxAttempts,
    });
  } catch (err) {
    // The results are paid for and stay in the provider's output file: read them again later
    // rather than resubmitting the items (patched), until pollGiveUpMs or a non-retryable error.
    c.processFailingSince ??= Date.now();
    const rereadLater =
      patched('embed-reread-batch-output') &&
      !isNonRetryable(err) &&
      Date.now() - c.processFailingSince <= s.pollGiveUpMs;
    if (rereadLater) return undefined;
    return p.release(`results could not be processed: ${errorMessage(err)}`, check.status);
  }
}

/** Polls until the batch is settled, backing off; continues as new every `pollsPerRun` polls. */
async function pollUntilSettled(p: Poller, onCheck: (check: BatchCheck) => void): Promise<BatchOutcome> {
  const { c, s } = p;
  for (let pollsThisRun = 0; ;) {
    const { check, outcome } = await checkBatch(p);
    if (check) onCheck(check);
    c.polls++;
    pollsThisRun++;
    if (outcome) return outcome;
    if (check && isFinalBatchStatus(check.status)) {
      const settled = await settleFinalBatch(p, check);
      if (settled) return settled;
    }
    await sleep(c.delayMs);
    c.delayMs = nextPollDelay(c.delayMs, s.pollBackoff, s.pollMaxMs);
    if (pollsThisRun >= s.pollsPerRun || workflowInfo().continueAsNewSuggested) {
      await continueAsNew<typeof pollEmbeddingBatch>({ ...p.input, carry: { ...c, runs: c.runs + 1 } });
    }
  }
}

/**
 * Polls one batch with durable timers (backoff from `pollInitialMs` to `pollMaxMs`), continuing as
 * new every `pollsPerRun` polls, until the batch is final; then settles it and asks for compaction.
 */
export async function pollEmbeddingBatch(input: PollEmbeddingBatchInput): Promise<PollEmbeddingBatchResult> {
  const s = input.settings;
  const c = input.carry ?? { polls: 0, delayMs: s.pollInitialMs, runs: 1, startedAt: Date.now() };
  let last: BatchCheck = {
    status: 'unknown',
    requestCounts: { total: 0, completed: 0, failed: 0 },
    errors: [],
  };
  setHandler(pollProgressQuery, () => ({
    batchKey: input.batchKey,
    status: last.status,
    polls: c.polls,
    runs: c.runs,
    requestCounts: last.requestCounts,
  }));
  const acts = embedProxies(s);
  const release = (reason: string, finalStatus: string) =>
    acts.data.releaseEmbeddingBatch({
      batchKey: input.batchKey,
      reason,
      finalStatus,
      maxAttempts: s.maxAttempts,
    });
  const outcome = await pollUntilSettled({ input, s, c, acts, release }, (check) => (last = check));
  if (outcome.embedded > 0) {
    await acts.control.requestEmbeddingCompaction({ compactorId: s.compactorId, reason: input.batchKey });
  }
  if (input.parentWorkflowId) {
    try {
      await getExternalWorkflowHandle(input.parentWorkflowId).signal(batchDoneSignal, outcome);
    } catch {
      // The backfill has ended (scheduled runs do not wait): nothing is waiting for this outcome.
    }
  }
  return { ...outcome, polls: c.polls, runs: c.runs, startedAt: c.startedAt, finishedAt: Date.now() };
}
