// One receipt of an evaluation run (a function its batch calls inline; a child workflow in older runs):
// read it and apply the rules, review its issues with the LLM in chunks (in parallel, under the
// global cap), save the decisions.
import { patched } from '@temporalio/workflow';
import type { ReceiptReviewPlan, ReviewedWord } from '../../activities/evaluate/types';
import { chunk } from '../../domain/chunk';
import type { LabelIssue } from '../../domain/receipt';
import { errorMessage, isNonRetryable } from '../shared';
import { RunBreaker } from '../run-breaker';
import { io, llmReview, receiptSteps } from './proxies';
import type { Settings } from './settings';

/**
 * The receipt stays out of history: one local activity reads it and applies the rules, returning
 * only the issues to review (chunked) and small ids (patch id).
 */
export const RECEIPT_OUT_OF_HISTORY_PATCH = 'receipt-payload-out-of-history';

/**
 * A receipt of an inline batch is reviewed whole by one `llm`-queue activity (read, rules, every
 * chunk's call, save): one activity instead of 2 + one per chunk, whose Temporal round trips cost
 * more CPU than a short LLM call (patch id).
 */
export const RECEIPT_REVIEWED_WHOLE_PATCH = 'receipt-reviewed-whole';

export interface EvaluateReceiptInput {
  settings: Settings;
  merchantId: string;
  receiptId: string;
  /**
   * Set by batches that run their receipts inline (receipt workflows of older runs lack it): the
   * receipt's steps are regular activities (proxies.ts says why), and a receipt with nothing to
   * review is saved by its prepare step (one activity, not two).
   */
  inline?: boolean;
}

export interface ReceiptOutcome {
  receiptId: string;
  status: 'SUCCEEDED' | 'FAILED';
  issues: number;
  reason?: string;
}

type FailedChunk = { chunkIndex: number; reason: string };
/** A receipt that is missing or malformed: a non-retryable failure of reading it, with the reason. */
type BadInput = { badInput: string };

async function unlessBadInput<T extends object>(read: () => Promise<T>): Promise<T | BadInput> {
  try {
    return await read();
  } catch (err) {
    if (isNonRetryable(err)) return { badInput: errorMessage(err) };
    throw err;
  }
}

/** One receipt: fetch -> rules -> LLM review in chunks (parallel, globally capped) -> save. */
export async function evaluateReceipt(input: EvaluateReceiptInput): Promise<ReceiptOutcome> {
  const { settings: s, merchantId, receiptId } = input;
  if (input.inline && !s.skipLlmReview && patched(RECEIPT_REVIEWED_WHOLE_PATCH)) return reviewWhole(input);
  const steps = input.inline ? receiptSteps : io;
  const plan = patched(RECEIPT_OUT_OF_HISTORY_PATCH)
    ? await unlessBadInput(() =>
        steps.prepareReceiptReview({
          receiptId,
          revalidate: s.revalidate,
          chunkSize: s.reviewChunkSize,
          withIssues: !s.skipLlmReview,
          ...(input.inline ? { saveIfNothingToReview: { runId: s.runId, merchantId } } : {}),
        }),
      )
    : await planInHistory(receiptId, s);
  if ('badInput' in plan) {
    const reason = plan.badInput;
    await steps.recordItemFailure({ runId: s.runId, itemId: receiptId, reason, merchantId });
    return { receiptId, status: 'FAILED', issues: 0, reason };
  }
  if (plan.saved) return { receiptId, status: 'SUCCEEDED', issues: plan.issueCount };
  const { reviews, failedChunks } =
    !s.skipLlmReview && plan.issueCount > 0
      ? await reviewChunks(s, merchantId, receiptId, plan)
      : { reviews: [], failedChunks: [] };
  reviews.sort((a, b) => (a.wordId < b.wordId ? -1 : a.wordId > b.wordId ? 1 : 0));
  await steps.saveReviewResults({
    runId: s.runId,
    receiptId,
    merchantId,
    ...(plan.issues
      ? { issues: plan.issues }
      : { issueCount: plan.issueCount, unlabelledWordIds: unlabelledOf(plan) }),
    reviews,
    failedChunks,
    skippedLlmReview: s.skipLlmReview,
    // Settings of runs started before the write-back existed lack it: those keep status-only.
    ...(s.applySuggestedLabels ? { applySuggestedLabels: true } : {}),
  });
  return failedChunks.length
    ? {
        receiptId,
        status: 'FAILED',
        issues: plan.issueCount,
        reason: failedChunks.map((c) => c.reason).join('; '),
      }
    : { receiptId, status: 'SUCCEEDED', issues: plan.issueCount };
}

/**
 * The receipt reviewed by one `llm`-queue activity. Chunks that failed for good are in its saved
 * result; if the activity itself fails for good (a missing receipt, retries exhausted) the failure
 * is recorded here; a run-stopping one stops the run.
 */
async function reviewWhole({
  settings: s,
  merchantId,
  receiptId,
}: EvaluateReceiptInput): Promise<ReceiptOutcome> {
  const llm = llmReview(merchantId, s.priority, s.llmTaskQueue);
  const breaker = new RunBreaker();
  let failure: string | undefined;
  const outcome = await breaker.run(async () => {
    try {
      return await llm.reviewReceipt({
        runId: s.runId,
        merchantId,
        receiptId,
        revalidate: s.revalidate,
        chunkSize: s.reviewChunkSize,
        noCache: s.noCache,
        ...(s.applySuggestedLabels ? { applySuggestedLabels: true } : {}),
      });
    } catch (err) {
      if (!breaker.trip(err)) failure = errorMessage(err);
      return undefined;
    }
  });
  if (!outcome) {
    const reason = failure ?? 'the review ended without an outcome';
    await receiptSteps.recordItemFailure({ runId: s.runId, itemId: receiptId, reason, merchantId });
    return { receiptId, status: 'FAILED', issues: 0, reason };
  }
  const { issueCount: issues, failedChunks, reason } = outcome;
  return failedChunks
    ? { receiptId, status: 'FAILED', issues, reason: reason ?? `${failedChunks} chunks failed` }
    : { receiptId, status: 'SUCCEEDED', issues };
}

/** Runs started before the patch: the receipt is read into history, then passed to the rules. */
async function planInHistory(
  receiptId: string,
  s: Settings,
): Promise<(ReceiptReviewPlan & { issues: LabelIssue[] }) | BadInput> {
  const receipt = await unlessBadInput(() => io.fetchReceiptData({ receiptId }));
  if ('badInput' in receipt) return receipt;
  // The activity named `evaluateLabels` (as the root workflow is): the label rules of one receipt.
  const issues = await io.evaluateLabels({ receipt, revalidate: s.revalidate });
  return {
    merchantName: receipt.merchantName,
    issueCount: issues.length,
    chunks: chunk(issues, s.reviewChunkSize),
    issues,
  };
}

function unlabelledOf(plan: ReceiptReviewPlan): string[] {
  return plan.chunks.flatMap((c) => c.filter((i) => i.unlabelled).map((i) => i.wordId));
}

/** Reviews the chunks in parallel; a chunk that fails for good is recorded, one refused for the credentials stops the run. */
async function reviewChunks(
  s: Settings,
  merchantId: string,
  receiptId: string,
  plan: ReceiptReviewPlan,
): Promise<{ reviews: ReviewedWord[]; failedChunks: FailedChunk[] }> {
  const llm = llmReview(merchantId, s.priority, s.llmTaskQueue);
  const reviews: ReviewedWord[] = [];
  const failedChunks: FailedChunk[] = [];
  const breaker = new RunBreaker();
  await breaker.run(() =>
    Promise.all(
      plan.chunks.map(async (issuesChunk, chunkIndex) => {
        try {
          reviews.push(
            ...(await llm.reviewLabelIssues({
              runId: s.runId,
              receiptId,
              merchantId,
              merchantName: plan.merchantName,
              chunkIndex,
              issues: issuesChunk,
              noCache: s.noCache,
            })),
          );
        } catch (err) {
          if (breaker.trip(err)) return;
          // An invalid answer after repairs, a 400/404, or retries exhausted: recorded for this chunk.
          failedChunks.push({ chunkIndex, reason: errorMessage(err) });
        }
      }),
    ),
  );
  return { reviews, failedChunks };
}
