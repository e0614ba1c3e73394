// The activity proxies of the evaluation workflows: pipeline-queue I/O as local activities, LLM
// review on the `llm` queue (its options per merchant and run priority). Each proxy offers only its
// queue's activities.
import {
  ioLocalActivityOptions,
  llmProxy,
  pipelineActivityOptions,
  pipelineLocalProxy,
  pipelineProxy,
  type RunPriority,
} from '../shared';

export const io = pipelineLocalProxy(ioLocalActivityOptions);

/**
 * The steps of receipts run inline in a batch: regular activities on the pipeline queue. A local
 * activity holds its workflow's task open until it ends, and with it the commands of every other
 * receipt of the batch (their LLM calls); under CPU starvation such held tasks time out.
 * A step is one receipt's reads or writes (idempotent): 30 s bounds it, so the steps a killed worker
 * had started are retried after 30 s rather than the pipeline activities' 2 minutes.
 */
export const receiptSteps = pipelineProxy({ ...pipelineActivityOptions, startToCloseTimeout: '30 seconds' });

export function llmReview(merchantId: string, priority: RunPriority, taskQueue: string) {
  return llmProxy(merchantId, priority, taskQueue);
}
