// The enrichment's pipeline-queue activity proxy (the `llm`-queue proxy is made per place, for
// its stable activity id).
import { ioLocalActivityOptions, pipelineLocalProxy } from '../shared';

/** Short DynamoDB reads and writes: the run record, prefetches, saves, the report. */
export const io = pipelineLocalProxy(ioLocalActivityOptions);
