// The activity proxies of the evaluation workflows: pipeline-queue I/O as local activities, LLM
// review on the `llm` queue (its options per merchant and run priority).
import { proxyActivities, proxyLocalActivities } from '@temporalio/workflow';
import type { Activities } from '../../activities';
import { ioLocalActivityOptions, llmActivityOptions, type RunPriority } from '../shared';

export const io = proxyLocalActivities<Activities>(ioLocalActivityOptions);

export function llmReview(merchantId: string, priority: RunPriority, taskQueue: string) {
  return proxyActivities<Activities>(llmActivityOptions(merchantId, priority, taskQueue));
}
