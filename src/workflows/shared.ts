// Workflow-side helpers shared by the pipelines: search attribute keys, the sliding window,
// priorities and the activity option sets (timeouts and retry policy next to each proxy).
import {
  defineSearchAttributeKey,
  SearchAttributeType,
  type ActivityOptions,
  type LocalActivityOptions,
} from '@temporalio/common';
import {
  CancellationScope,
  ContinueAsNew,
  isCancellation,
  patched,
  upsertSearchAttributes,
} from '@temporalio/workflow';

export const RunIdKey = defineSearchAttributeKey('PipelineRunId', SearchAttributeType.KEYWORD);
export const PipelineKey = defineSearchAttributeKey('Pipeline', SearchAttributeType.KEYWORD);
export const MerchantKey = defineSearchAttributeKey('Merchant', SearchAttributeType.KEYWORD);
export const RunStatusKey = defineSearchAttributeKey('RunStatus', SearchAttributeType.KEYWORD);

/** Default task queue names (configurable: TASK_QUEUE_PIPELINE / TASK_QUEUE_LLM). */
export const PIPELINE_QUEUE = 'pipeline';
export const LLM_QUEUE = 'llm';

export type RunPriority = 'interactive' | 'normal' | 'backfill';
/** Temporal priority keys: lower runs first (server default range 1..5). */
export const PRIORITY_KEYS: Record<RunPriority, number> = { interactive: 1, normal: 3, backfill: 5 };

const ioRetry = {
  initialInterval: '1 second',
  backoffCoefficient: 2,
  maximumInterval: '30 seconds',
  maximumAttempts: 10,
  nonRetryableErrorTypes: ['InvalidReceipt', 'ReceiptNotFound', 'UnknownMerchant', 'InvalidInput'],
};

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
      nonRetryableErrorTypes: ['LlmFatal', 'LlmInvalidAnswer'],
    },
    priority: { fairnessKey, priorityKey: PRIORITY_KEYS[priority] },
  };
}

/**
 * Runs `run` over items with at most `width` in flight (Temporal-safe: deterministic order).
 * Stops starting new items once `shouldStop()` says so, waits for those in flight, and returns
 * the index of the first item not started. `run` must not throw.
 */
export async function slidingWindow<T>(
  items: readonly T[],
  width: number,
  run: (item: T, index: number) => Promise<void>,
  shouldStop: () => boolean = () => false,
): Promise<number> {
  const inFlight = new Set<Promise<void>>();
  let next = 0;
  for (;;) {
    while (inFlight.size < width && next < items.length && !shouldStop()) {
      const index = next++;
      const p: Promise<void> = run(items[index]!, index).finally(() => inFlight.delete(p));
      inFlight.add(p);
    }
    if (inFlight.size === 0) return next;
    await Promise.race(inFlight);
  }
}

export function errorMessage(err: unknown): string {
  let e = err as { message?: string; cause?: unknown } | undefined;
  const parts: string[] = [];
  while (e && parts.length < 4) {
    if (e.message) parts.push(e.message);
    e = e.cause as typeof e;
  }
  return parts.join(': ') || String(err);
}

/**
 * Runs a root workflow's body. When it fails (bad input, an activity out of retries, cancelled), the
 * run record is marked FAILED (or CANCELLED) with the reason before the failure propagates, so
 * `report` never shows a dead run as RUNNING. Histories from before this existed keep replaying.
 */
export async function recordingRunFailure<T>(
  failRun: (input: { runId: string; status: 'FAILED' | 'CANCELLED'; reason: string }) => Promise<void>,
  runId: string,
  body: () => Promise<T>,
): Promise<T> {
  try {
    return await body();
  } catch (err) {
    if (err instanceof ContinueAsNew || !patched('record-run-failure')) throw err;
    const status = isCancellation(err) ? 'CANCELLED' : 'FAILED';
    await CancellationScope.nonCancellable(() => failRun({ runId, status, reason: errorMessage(err) }));
    upsertSearchAttributes([{ key: RunStatusKey, value: status }]);
    throw err;
  }
}
