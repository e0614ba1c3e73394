// A whole receipt's review as ONE `llm`-queue activity: read it and apply the rules, review its
// chunks of issues (each its own LLM call under the global cap, all at once), save the decisions.
// One activity instead of prepare -> N reviews -> save spares the Temporal round trips that cost
// more CPU than a short LLM call. A retry redoes the reads and the save (both idempotent) and takes
// every chunk already paid for from the answer ledger, so no answer is paid twice.
import { Context } from '@temporalio/activity';
import type { LlmClient } from '../../llm/llm-client';
import { toActivityFailure } from '../../llm/errors';
import { RUN_STOPPING_FAILURE_TYPES } from '../../workflows/shared/failure-types';
import { activityLlmCall } from '../shared/activity-llm-call';
import { createEvaluatePrepareActivities } from './prepare';
import { labelReviewCall, reviewedWordsOf } from './review';
import { createEvaluateSaveActivities } from './save';
import type { LabelIssue } from '../../domain/receipt';
import type { LabelUpdate } from '../../stores/receipts';
import type { ItemResult } from '../../stores/runs';
import type { EvaluationDeps, ReviewedWord } from './types';

export interface ReviewReceiptInput {
  runId: string;
  merchantId: string;
  receiptId: string;
  revalidate?: boolean;
  chunkSize: number;
  noCache?: boolean;
  applySuggestedLabels?: boolean;
}

/** What the saved result says: the issues found, and the chunks whose review failed for good and why. */
export interface ReviewReceiptOutcome {
  issueCount: number;
  failedChunks: number;
  reason?: string;
}

/** Failures that stop the whole run: thrown so the workflow's breaker sees them (run-breaker.ts). */
const RUN_STOPPING = new Set(RUN_STOPPING_FAILURE_TYPES);

export function createEvaluateReceiptReviewActivities(
  deps: Pick<EvaluationDeps, 'receipts' | 'runs'> & { llm: LlmClient },
) {
  const { prepareReceiptReview } = createEvaluatePrepareActivities(deps);
  const { saveReviewResults } = createEvaluateSaveActivities(deps);
  return {
    /**
     * Reviews one receipt end to end. A chunk whose answer stays invalid after repairs (or is refused
     * for good) is saved as a failed chunk; a retryable failure of any chunk fails the attempt once
     * every chunk has ended (Temporal retries it; the paid chunks come back from the ledger); a
     * missing or malformed receipt, or a run-stopping refusal, fails it for good.
     */
    async reviewReceipt(input: ReviewReceiptInput): Promise<ReviewReceiptOutcome> {
      const { runId, merchantId, receiptId } = input;
      const ctx = Context.current();
      ctx.heartbeat(); // the reads and the save are short; the calls heartbeat while they wait
      // A retry after the save (the completion was lost): the saved result is the outcome. The
      // receipt's labels have changed since, so reviewing it again would review something else.
      if (ctx.info.attempt > 1) {
        const saved = await deps.runs.getResult(runId, receiptId);
        if (saved) {
          // Killed between the result and its label updates: finish them (each applies once).
          const updates = saved.detail?.labelUpdates as LabelUpdate[] | undefined;
          if (updates?.length) await deps.receipts.applyLabelUpdates(runId, updates);
          return outcomeOf(saved);
        }
      }
      const plan = await prepareReceiptReview({
        receiptId,
        revalidate: input.revalidate,
        chunkSize: input.chunkSize,
        withIssues: true,
        saveIfNothingToReview: { runId, merchantId },
      });
      if (plan.saved) return { issueCount: plan.issueCount, failedChunks: 0 };
      const { reviews, failedChunks, retryable } = await reviewChunks(
        deps.llm,
        input,
        plan,
        ctx.info.attempt,
      );
      // A run-stopping failure first: the run ends whatever the other chunks did.
      const stop = retryable.find((f) => RUN_STOPPING.has((f as { type?: string }).type ?? ''));
      if (stop ?? retryable[0]) throw stop ?? retryable[0];
      reviews.sort((a, b) => (a.wordId < b.wordId ? -1 : a.wordId > b.wordId ? 1 : 0));
      failedChunks.sort((a, b) => a.chunkIndex - b.chunkIndex);
      ctx.heartbeat();
      await saveReviewResults({
        runId,
        receiptId,
        merchantId,
        issueCount: plan.issueCount,
        unlabelledWordIds: plan.chunks.flatMap((c) => c.filter((i) => i.unlabelled).map((i) => i.wordId)),
        reviews,
        failedChunks,
        skippedLlmReview: false,
        labelsAfterResult: true,
        ...(input.applySuggestedLabels ? { applySuggestedLabels: true } : {}),
      });
      return outcomeOf({
        status: failedChunks.length ? 'FAILED' : 'SUCCEEDED',
        reason: failedChunks.map((c) => `chunk ${c.chunkIndex}: ${c.reason}`).join('; '),
        detail: { issues: plan.issueCount, failedChunks: failedChunks.length },
      });
    },
  };
}

/** Every chunk's call at once; each ends reviewed, failed for good, or retryable. */
async function reviewChunks(
  llm: LlmClient,
  { runId, merchantId, noCache }: ReviewReceiptInput,
  plan: { merchantName: string; chunks: LabelIssue[][] },
  attempt: number,
) {
  const reviews: ReviewedWord[] = [];
  const failedChunks: Array<{ chunkIndex: number; reason: string }> = [];
  const retryable: unknown[] = [];
  await Promise.all(
    plan.chunks.map(async (issues, chunkIndex) => {
      try {
        const call = {
          runId,
          ...labelReviewCall(plan.merchantName, issues),
          noCache,
          fairnessKey: merchantId,
        };
        reviews.push(...reviewedWordsOf(issues, await activityLlmCall(llm, call, chunkIndex)));
      } catch (err) {
        const failure = toActivityFailure(err, attempt);
        if (failure.nonRetryable && !RUN_STOPPING.has(failure.type ?? ''))
          failedChunks.push({ chunkIndex, reason: failure.message });
        else retryable.push(failure);
      }
    }),
  );
  return { reviews, failedChunks, retryable };
}

/** The outcome a saved receipt result (save.ts) says. */
function outcomeOf(result: Pick<ItemResult, 'status' | 'reason' | 'detail'>): ReviewReceiptOutcome {
  const detail = result.detail ?? {};
  const failedChunks = Number(detail.failedChunks ?? (result.status === 'FAILED' ? 1 : 0));
  return {
    issueCount: Number(detail.issues ?? 0),
    failedChunks,
    ...(failedChunks ? { reason: result.reason ?? 'the review failed' } : {}),
  };
}
