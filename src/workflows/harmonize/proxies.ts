// The harmonizer's pipeline-queue activity proxies, each with its timeouts and retry policy (the
// `llm`-queue proxy is made per batch in harmonize-group.ts, for its stable activity id).
import {
  HARMONIZE_FAILURES,
  ioLocalActivityOptions,
  ioRetryPolicy,
  pipelineLocalProxy,
  pipelineProxy,
} from '../shared';

/** Short run-record reads and writes (start, fail, list merchants, record a failed group). */
export const io = pipelineLocalProxy(ioLocalActivityOptions);

const groupRetry = ioRetryPolicy(HARMONIZE_FAILURES);

/**
 * A group's I/O steps (DynamoDB, Chroma, S3 files): local activities on the pipeline worker, like
 * the evaluation's. Consecutive steps then run in one workflow task, without a task-queue round
 * trip each (measured: ~0.3 s per step on the dev server, most of a small group's time). A longer
 * timeout than the evaluation's, for groups of thousands of words.
 */
export const groupIo = pipelineLocalProxy({
  startToCloseTimeout: '10 minutes',
  localRetryThreshold: '10 seconds',
  retry: groupRetry,
});

/** The run report reads every result of the run: a regular activity, heartbeating. */
export const reportIo = pipelineProxy({
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: '30 seconds',
  retry: groupRetry,
});
