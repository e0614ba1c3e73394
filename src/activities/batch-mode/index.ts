// Batch mode (`--mode batch`): a run's LLM prompts as OpenAI Batch API jobs, one file per step —
// prepare the requests (prepare-evaluate.ts, prepare-enrich.ts), submit and check a job (submit.ts), settle its answers
// into the LLM cache and the run's call records (process.ts). Pipeline-queue activities.
import type { BatchModeDeps } from './deps';
import { createPrepareEnrichBatchActivities } from './prepare-enrich';
import { createPrepareEvaluateBatchActivities } from './prepare-evaluate';
import { createProcessLlmBatchActivities } from './process';
import { createSubmitLlmBatchActivities } from './submit';

export function createBatchModeActivities(deps: BatchModeDeps) {
  return {
    ...createPrepareEvaluateBatchActivities(deps),
    ...createPrepareEnrichBatchActivities(deps),
    ...createSubmitLlmBatchActivities(deps),
    ...createProcessLlmBatchActivities(deps),
  };
}

export type { BatchModeDeps, BatchPollSettings } from './deps';
export type { PreparedBatchJobs, PrepareEvaluateBatchJobsInput } from './prepare-evaluate';
export type { LlmBatchJobRef } from './submit';
