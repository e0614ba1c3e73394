// What the label evaluation's activities take and give: the workflows import these as types only.
import type { LabelReviewAnswer } from '../../domain/llm-tasks';
import type { LabelIssue } from '../../domain/receipt';
import type { PromptModeReport } from '../batch-mode/report';
import type { RunReportBase } from '../shared/run-report';
import type { ReceiptStore } from '../../stores/receipts';
import type { RunStore } from '../../stores/runs';

export interface EvaluationDeps {
  receipts: ReceiptStore;
  runs: RunStore;
  truthFile: string;
}

export interface ReviewedWord {
  wordId: string;
  label: string;
  decision: LabelReviewAnswer['reviews'][number]['decision'];
  suggestedLabel: string | null;
  reason: string;
}

/** What a receipt's review needs, without the receipt: its issues chunked, and small names. */
export interface ReceiptReviewPlan {
  merchantName: string;
  issueCount: number;
  /** The issues, `chunkSize` per LLM call (none when the review is skipped). */
  chunks: LabelIssue[][];
  /** Every issue (runs started before the receipt left history pass them to the save). */
  issues?: LabelIssue[];
  /** The receipt had nothing to review and its result is written already (`saveIfNothingToReview`). */
  saved?: boolean;
}

export interface SaveReviewResultsInput {
  runId: string;
  receiptId: string;
  merchantId: string;
  /** The issues found (runs started before the receipt left history). */
  issues?: LabelIssue[];
  /** How many issues were found (when `issues` is not given). */
  issueCount?: number;
  /** Issues on words without a label, whose label the review may create (when `issues` is not given). */
  unlabelledWordIds?: string[];
  reviews: ReviewedWord[];
  /** Chunks whose LLM review failed for good, with the reason. */
  failedChunks: Array<{ chunkIndex: number; reason: string }>;
  skippedLlmReview: boolean;
  /** INVALID with a suggested label replaces the label (the seed's write-back). @default false */
  applySuggestedLabels?: boolean;
  /**
   * Write the result (with its label updates) before the updates, so a retry can finish them from
   * it: for a receipt reviewed whole, whose retry would otherwise see its labels half updated.
   */
  labelsAfterResult?: boolean;
}

export interface EvaluationReport extends RunReportBase<'evaluate'>, PromptModeReport {
  issuesFound: number;
  decisions: Record<string, number>;
  failedChunks: number;
  scores?: { precision: number; recall: number; planted: number };
}
