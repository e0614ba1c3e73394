// What a batch-mode poll workflow answers while it runs.
import { defineQuery } from '@temporalio/workflow';

export interface LlmBatchJobProgress {
  seq: number;
  /** The provider's last status seen (`submitting` before the first poll). */
  status: string;
  polls: number;
  /** Runs of the workflow (1 + continue-as-new count). */
  runs: number;
}

export const llmBatchJobQuery = defineQuery<LlmBatchJobProgress>('llmBatchJob');
