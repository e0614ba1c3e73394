// The evaluation's `llm`-queue step: one chunk of a receipt's label issues reviewed with one
// structured LLM call, through the shared LlmClient (global cap, cache, retries by Temporal).
import {
  answerJsonSchemaFor,
  coversExactly,
  labelReviewAnswerSchema,
  type LabelReviewAnswer,
} from '../../domain/llm-tasks';
import { labelReviewMessages } from '../../domain/prompts';
import type { LabelIssue } from '../../domain/receipt';
import type { LlmClient } from '../../llm/llm-client';
import { activityLlmCall } from '../shared/activity-llm-call';
import type { ReviewedWord } from './types';

export interface ReviewLabelIssuesInput {
  runId: string;
  receiptId: string;
  merchantId: string;
  merchantName: string;
  chunkIndex: number;
  issues: LabelIssue[];
  noCache?: boolean;
}

/** A review answer is valid when it decides every issue sent, and nothing else (else it is repaired). */
export function labelReviewSchemaFor(ids: ReadonlySet<string>) {
  return labelReviewAnswerSchema.refine((a) => coversExactly(a.reviews, ids), {
    message: `reviews must cover exactly the ${ids.size} item ids sent, each once`,
  });
}

/**
 * The structured call that reviews one chunk of issues: its prompt, answer schema and size. Batch
 * mode sends exactly this request, so its answers are cached under the key a realtime call reads.
 */
export function labelReviewCall(merchantName: string, issues: LabelIssue[]) {
  const ids = new Set(issues.map((i) => i.wordId));
  return {
    task: 'label_review' as const,
    messages: labelReviewMessages(merchantName, issues),
    schema: labelReviewSchemaFor(ids),
    jsonSchema: answerJsonSchemaFor('label_review', [...ids]),
    itemCount: issues.length,
  };
}

export function createEvaluateReviewActivities({ llm }: { llm: LlmClient }) {
  return {
    /** Reviews one chunk of label issues of a receipt with one structured LLM call. */
    async reviewLabelIssues(input: ReviewLabelIssuesInput): Promise<ReviewedWord[]> {
      const value = await activityLlmCall(llm, {
        runId: input.runId,
        ...labelReviewCall(input.merchantName, input.issues),
        noCache: input.noCache,
        fairnessKey: input.merchantId,
      });
      return reviewedWordsOf(input.issues, value);
    },
  };
}

/** A review answer's decisions as reviewed words, each with the label of the issue it decides. */
export function reviewedWordsOf(issues: LabelIssue[], answer: LabelReviewAnswer): ReviewedWord[] {
  const byId = new Map(issues.map((i) => [i.wordId, i]));
  return answer.reviews.map((r) => ({
    wordId: r.id,
    label: byId.get(r.id)?.label ?? 'OTHER',
    decision: r.decision,
    suggestedLabel: r.suggestedLabel,
    reason: r.reason,
  }));
}
