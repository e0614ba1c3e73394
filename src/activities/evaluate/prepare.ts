// The evaluation's first step on the pipeline queue: which receipts a merchant has (page by page),
// and per receipt its label issues from the deterministic rules, read without the receipt entering
// workflow history.
import { ApplicationFailure } from '@temporalio/activity';
import { chunk } from '../../domain/chunk';
import type { LabelIssue, Receipt } from '../../domain/receipt';
import { findLabelIssues, validateReceiptShape } from '../../domain/rules';
import { createEvaluateSaveActivities } from './save';
import type { EvaluationDeps, ReceiptReviewPlan } from './types';

export interface ReceiptIdPage {
  /** Receipt ids after the cursor, in id order. */
  receiptIds: string[];
  /** The merchant's receipt count in this run (when asked for: the first page). */
  total?: number;
}

export function createEvaluatePrepareActivities(deps: Pick<EvaluationDeps, 'receipts' | 'runs'>) {
  return { ...createReceiptListingActivities(deps), ...createReceiptRulesActivities(deps) };
}

/** Which receipts a merchant has in a run, all at once or page by page. */
function createReceiptListingActivities({ receipts, runs }: Pick<EvaluationDeps, 'receipts' | 'runs'>) {
  return {
    /** Every receipt id of a merchant at once (merchants of runs started before the cursor). */
    async listReceiptIds(input: { merchantId: string; redriveRunId?: string }): Promise<string[]> {
      if (input.redriveRunId)
        return (await runs.getRedrivePlan(input.redriveRunId, input.merchantId)).get(input.merchantId) ?? [];
      return (await receipts.listReceiptIds(input.merchantId)).sort();
    },

    /** Up to `limit` receipt ids of a merchant after `after`, in id order (a redrive's from its plan). */
    async listReceiptIdPage(input: {
      merchantId: string;
      redriveRunId?: string;
      after?: string;
      limit: number;
      withTotal?: boolean;
    }): Promise<ReceiptIdPage> {
      if (input.redriveRunId) {
        const planned =
          (await runs.getRedrivePlan(input.redriveRunId, input.merchantId)).get(input.merchantId) ?? [];
        const ids = [...planned].sort();
        const rest = input.after === undefined ? ids : ids.filter((id) => id > input.after!);
        return { receiptIds: rest.slice(0, input.limit), ...(input.withTotal ? { total: ids.length } : {}) };
      }
      const [receiptIds, total] = await Promise.all([
        receipts.listReceiptIdsAfter(input.merchantId, input.after, input.limit),
        input.withTotal ? receipts.countReceipts(input.merchantId) : undefined,
      ]);
      return { receiptIds, ...(total !== undefined ? { total } : {}) };
    },
  };
}

/** A receipt read and its label rules applied (the issues the LLM will review). */
function createReceiptRulesActivities({ receipts, runs }: Pick<EvaluationDeps, 'receipts' | 'runs'>) {
  const { saveReviewResults } = createEvaluateSaveActivities({ receipts, runs });
  /** Reads a receipt in one Query; a missing or malformed receipt is a non-retryable failure. */
  async function fetchReceiptData(input: { receiptId: string }): Promise<Receipt> {
    const receipt = await receipts.getReceipt(input.receiptId);
    if (!receipt)
      throw ApplicationFailure.nonRetryable(
        `Receipt ${input.receiptId} not found: it was deleted or never imported; re-import it to evaluate it`,
        'ReceiptNotFound',
      );
    const problems = validateReceiptShape(receipt);
    if (problems.length)
      throw ApplicationFailure.nonRetryable(
        `Receipt ${input.receiptId} is invalid: ${problems.join('; ')}`,
        'InvalidReceipt',
      );
    return receipt;
  }

  /**
   * The label rules of one receipt (domain/rules.ts): the issues the LLM will review. Registered
   * under the activity name `evaluateLabels` (the root workflow's name too: kept for replay).
   */
  async function findReceiptLabelIssues(input: {
    receipt: Receipt;
    revalidate?: boolean;
  }): Promise<LabelIssue[]> {
    return findLabelIssues(input.revalidate ? asUnreviewed(input.receipt) : input.receipt, {});
  }

  return {
    fetchReceiptData,
    evaluateLabels: findReceiptLabelIssues,

    /**
     * Reads a receipt and applies the rules in one step, returning only what the workflow needs: the
     * issues chunked for review (none when `withIssues` is false) and their count. With
     * `saveIfNothingToReview`, a receipt with nothing for the LLM (no issue, or the review skipped)
     * has its result written here too, sparing the workflow a second local activity.
     */
    async prepareReceiptReview(input: {
      receiptId: string;
      revalidate?: boolean;
      chunkSize: number;
      withIssues: boolean;
      saveIfNothingToReview?: { runId: string; merchantId: string };
    }): Promise<ReceiptReviewPlan> {
      const receipt = await fetchReceiptData(input);
      const issues = await findReceiptLabelIssues({ receipt, revalidate: input.revalidate });
      const save = input.saveIfNothingToReview;
      if (save && (!input.withIssues || issues.length === 0)) {
        await saveReviewResults({
          ...save,
          receiptId: input.receiptId,
          issueCount: issues.length,
          unlabelledWordIds: [],
          reviews: [],
          failedChunks: [],
          skippedLlmReview: !input.withIssues,
        });
        return { merchantName: receipt.merchantName, issueCount: issues.length, chunks: [], saved: true };
      }
      return {
        merchantName: receipt.merchantName,
        issueCount: issues.length,
        chunks: input.withIssues ? chunk(issues, input.chunkSize) : [],
      };
    },
  };
}

/** Labels decided by an earlier LLM review count as unverified again (for `--revalidate`). */
function asUnreviewed(receipt: Receipt): Receipt {
  return {
    ...receipt,
    lines: receipt.lines.map((l) => ({
      ...l,
      words: l.words.map((w) =>
        w.label?.source === 'llm-review'
          ? { ...w, label: { ...w.label, validationStatus: 'PENDING' as const } }
          : w,
      ),
    })),
  };
}
