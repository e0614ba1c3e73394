// Activity proxies typed by task queue: a `pipeline`-queue proxy offers only the pipeline worker's
// activities and an `llm`-queue proxy only the llm worker's, so an llm activity called through a
// local-activity proxy (or a pipeline one on the llm queue) does not type-check.
import { proxyActivities, proxyLocalActivities } from '@temporalio/workflow';
import type { ActivityOptions, LocalActivityOptions } from '@temporalio/common';
import type { LlmActivities, PipelineActivities } from '../../activities';
import { llmActivityOptions, type RunPriority } from './activity-options';

/** Activities of the `pipeline` worker, as the workflow calls them. */
export type PipelineProxy = ReturnType<typeof proxyActivities<PipelineActivities>>;
/** Activities of the `llm` worker, as the workflow calls them. */
export type LlmProxy = ReturnType<typeof proxyActivities<LlmActivities>>;

/** Pipeline activities run as local activities, inside the workflow task (short DynamoDB I/O). */
export function pipelineLocalProxy(options: LocalActivityOptions): PipelineProxy {
  return proxyLocalActivities<PipelineActivities>(options);
}

/** Pipeline activities as regular activities on the workflow's own (pipeline) queue. */
export function pipelineProxy(options: ActivityOptions): PipelineProxy {
  return proxyActivities<PipelineActivities>(options);
}

/** `llm`-queue activities with the run's fairness key and priority (Temporal numbers the activity ids). */
export function llmProxy(fairnessKey: string, priority: RunPriority, taskQueue: string): LlmProxy {
  return proxyActivities<LlmActivities>(llmActivityOptions(fairnessKey, priority, taskQueue));
}

/**
 * The `llm`-queue proxy of one logical call, by a stable activity id (unique across continue-as-new
 * runs of the workflow id, so call records keyed by workflow id + activity id never collide).
 */
export function llmProxyFor(
  fairnessKey: string,
  priority: RunPriority,
  taskQueue: string,
): (activityId: string) => LlmProxy {
  const options = llmActivityOptions(fairnessKey, priority, taskQueue);
  return (activityId) => proxyActivities<LlmActivities>({ ...options, activityId });
}
