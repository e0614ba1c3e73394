// The analysis's pipeline-queue activity proxies, each with its timeouts and retry policy (the
// `llm`-queue proxy is made per function, for its stable activity id).
import { proxyActivities, proxyLocalActivities } from '@temporalio/workflow';
import type { Activities } from '../../activities';
import { ioLocalActivityOptions, pipelineActivityOptions } from '../shared';

/** Short DynamoDB reads and writes: the run record, pages of functions, verdicts, the report. */
export const io = proxyLocalActivities<Activities>(ioLocalActivityOptions);

/** Reading a large suite (or an S3 prefix) can take minutes: a regular activity that heartbeats. */
export const files = proxyActivities<Activities>({
  ...pipelineActivityOptions,
  startToCloseTimeout: '15 minutes',
  heartbeatTimeout: '1 minute',
});
