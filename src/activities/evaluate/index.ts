// The label evaluation's activities (seed 000), by step: prepare (receipt ids, rules), review (the
// `llm` queue), save, report. The workflows in src/workflows/evaluate/ call them.
import { createEvaluatePrepareActivities } from './prepare';
import { createEvaluateReportActivities } from './report';
import { createEvaluateReviewActivities } from './review';
import { createEvaluateReceiptReviewActivities } from './review-receipt';
import { createEvaluateSaveActivities } from './save';
import type { EvaluationDeps } from './types';
import type { LlmClient } from '../../llm/llm-client';

export type {
  EvaluationDeps,
  EvaluationReport,
  ReceiptReviewPlan,
  ReviewedWord,
  SaveReviewResultsInput,
} from './types';
export type { ReviewLabelIssuesInput } from './review';
export type { ReviewReceiptInput, ReviewReceiptOutcome } from './review-receipt';
export { labelUpdatesOf } from './save';

/** The pipeline-queue activities of the evaluation. */
export function createEvaluateActivities(deps: EvaluationDeps) {
  return {
    ...createEvaluatePrepareActivities(deps),
    ...createEvaluateSaveActivities(deps),
    ...createEvaluateReportActivities(deps),
  };
}

/** The `llm`-queue activities of the evaluation: a receipt's review whole, or one chunk of it. */
export function createEvaluateLlmActivities(
  deps: Pick<EvaluationDeps, 'receipts' | 'runs'> & { llm: LlmClient },
) {
  return { ...createEvaluateReviewActivities(deps), ...createEvaluateReceiptReviewActivities(deps) };
}
