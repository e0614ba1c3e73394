// Task queues, priorities and the activity option sets (timeouts and retry policy next to each proxy).
import type { ActivityOptions, LocalActivityOptions, RetryPolicy } from '@temporalio/common';
import { INPUT_FAILURES, LLM_FAILURES } from './failure-types';

/** Default task queue names (configurable: TASK_QUEUE_PIPELINE / TASK_QUEUE_LLM). */
export const PIPELINE_QUEUE = 'pipeline';
export const LLM_QUEUE = 'llm';

export type RunPriority = 'interactive' | 'normal' | 'backfill';
/** Temporal priority keys: lower runs first (server default range 1..5). */
export const PRIORITY_KEYS: Record<RunPriority, number> = { interactive: 1, normal: 3, backfill: 5 };

/**
 * The retry policy of I/O steps: backoff from 1 s, doubling up to 30 s, 10 attempts; the failure
 * types in `nonRetryable` (bad input) end the activity at once.
 */
export function ioRetryPolicy(nonRetryable: readonly string[]): RetryPolicy {
  return {
    initialInterval: '1 second',
    backoffCoefficient: 2,
    maximumInterval: '30 seconds',
    maximumAttempts: 10,
    nonRetryableErrorTypes: [...nonRetryable],
  };
}

const ioRetry = ioRetryPolicy(INPUT_FAILURES);

/**
 * Long or heavy I/O activities (S3 files, Chroma upserts): regular activities on the workflow's own
 * (pipeline) queue, retried with backoff, bad input not retried.
 */
export const pipelineActivityOptions: ActivityOptions = {
  startToCloseTimeout: '2 minutes',
  retry: ioRetry,
};

/**
 * Short DynamoDB reads/writes and pure rule evaluation: local activities, run by the pipeline worker
 * inside the workflow task. They skip the task-queue round trip and three history events each, which
 * is most of the orchestration cost per receipt (measured in docs/BENCHMARKS.md).
 */
export const ioLocalActivityOptions: LocalActivityOptions = {
  startToCloseTimeout: '1 minute',
  localRetryThreshold: '10 seconds',
  retry: ioRetry,
};

/**
 * LLM activities: the one retry layer for provider calls. A 429/503 comes back with
 * nextRetryDelay = Retry-After (set by the activity), which overrides the backoff below. The
 * timeout covers waiting for a global permit; heartbeats keep a waiting/calling attempt alive.
 */
export function llmActivityOptions(
  fairnessKey: string,
  priority: RunPriority = 'normal',
  taskQueue = LLM_QUEUE,
): ActivityOptions {
  return {
    taskQueue,
    startToCloseTimeout: '10 minutes',
    // Short: a worker killed mid-call is noticed (and its call retried) within 10 s; the activity
    // heartbeats every 2 s while it waits for a permit and while the provider answers.
    heartbeatTimeout: '10 seconds',
    retry: {
      initialInterval: '1 second',
      backoffCoefficient: 2,
      maximumInterval: '1 minute',
      maximumAttempts: 15,
      nonRetryableErrorTypes: [...LLM_FAILURES],
    },
    priority: { fairnessKey, priorityKey: PRIORITY_KEYS[priority] },
  };
}
