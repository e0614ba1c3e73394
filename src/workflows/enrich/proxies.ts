// The enrichment's pipeline-queue activity proxy (the `llm`-queue proxy is made per place, for
// its stable activity id).
import { proxyLocalActivities } from '@temporalio/workflow';
import type { Activities } from '../../activities';
import { ioLocalActivityOptions } from '../shared';

/** Short DynamoDB reads and writes: the run record, prefetches, saves, the report. */
export const io = proxyLocalActivities<Activities>(ioLocalActivityOptions);
