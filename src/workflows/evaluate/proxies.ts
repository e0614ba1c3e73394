// The activity proxies of the evaluation workflows: pipeline-queue I/O as local activities, LLM
// review on the `llm` queue (its options per merchant and run priority).
import { proxyActivities, proxyLocalActivities } from '@temporalio/workflow';
import type { Activities } from '../../activities';
import {
  ioLocalActivityOptions,
  llmActivityOptions,
  pipelineActivityOptions,
  type RunPriority,
} from '../shared';

export const io = proxyLocalActivities<Activities>(ioLocalActivityOptions);

/**
 * The steps of receipts run inline in a batch: regular activities on the pipeline queue. A local
 * activity holds its workflow's task open until it ends, and with it the commands of every other
 * receipt of the batch (their LLM calls); under CPU starvation such held tasks time out.
 */
export const receiptSteps = proxyActivities<Activities>(pipelineActivityOptions);

export function llmReview(merchantId: string, priority: RunPriority, taskQueue: string) {
  return proxyActivities<Activities>(llmActivityOptions(merchantId, priority, taskQueue));
}
