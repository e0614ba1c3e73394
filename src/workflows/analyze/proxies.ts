// The analysis's pipeline-queue activity proxies, each with its timeouts and retry policy (the
// `llm`-queue proxy is made per function, for its stable activity id).
import {
  ioLocalActivityOptions,
  pipelineActivityOptions,
  pipelineLocalProxy,
  pipelineProxy,
} from '../shared';

/** Short DynamoDB reads and writes: the run record, pages of functions, verdicts, the report. */
export const io = pipelineLocalProxy(ioLocalActivityOptions);

/** Reading a large suite (or an S3 prefix) can take minutes: a regular activity that heartbeats. */
export const files = pipelineProxy({
  ...pipelineActivityOptions,
  startToCloseTimeout: '15 minutes',
  heartbeatTimeout: '1 minute',
});
