// Activity options of the embedding workflows (timeouts and retry policy next to each proxy) and
// the local-activity proxy they share.
import type { ActivityOptions } from '@temporalio/workflow';
import type { EmbedSettings } from '../../domain/embedding';
import { EMBED_FAILURES, ioLocalActivityOptions, pipelineLocalProxy, pipelineProxy } from '../shared';

/** Short DynamoDB reads/writes (settings, run records, delta counts): local activities. */
export const io = pipelineLocalProxy(ioLocalActivityOptions);

/**
 * Batch API control calls and submission: regular activities on the pipeline queue, heartbeated so
 * a dead worker's attempt is retried after `heartbeatTimeoutMs`. A 429 waits for its Retry-After.
 */
export function controlActivityOptions(s: Pick<EmbedSettings, 'heartbeatTimeoutMs'>): ActivityOptions {
  return {
    startToCloseTimeout: '30 minutes',
    heartbeatTimeout: s.heartbeatTimeoutMs,
    retry: {
      initialInterval: '1 second',
      backoffCoefficient: 2,
      maximumInterval: '1 minute',
      maximumAttempts: 10,
      nonRetryableErrorTypes: [...EMBED_FAILURES],
    },
  };
}

/**
 * Heavy S3/DynamoDB/Chroma work (results -> delta -> statuses, compaction, snapshots): long,
 * heartbeated, retried for hours before a batch is given up.
 */
export function dataActivityOptions(
  s: Pick<EmbedSettings, 'heartbeatTimeoutMs' | 'dataMaxAttempts'>,
): ActivityOptions {
  return {
    startToCloseTimeout: '2 hours',
    heartbeatTimeout: s.heartbeatTimeoutMs,
    retry: {
      initialInterval: '1 second',
      backoffCoefficient: 2,
      maximumInterval: '5 minutes',
      maximumAttempts: s.dataMaxAttempts ?? 50,
      nonRetryableErrorTypes: [...EMBED_FAILURES],
    },
  };
}

/** The regular-activity proxies of an embedding workflow, with the options its settings give. */
export function embedProxies(s: Pick<EmbedSettings, 'heartbeatTimeoutMs' | 'dataMaxAttempts'>) {
  return {
    control: pipelineProxy(controlActivityOptions(s)),
    data: pipelineProxy(dataActivityOptions(s)),
  };
}
