// DynamoDB side of the embedding pipeline: one store over the embedding status of lines and words
// (items.ts), the batch records that make submission idempotent (batches.ts) and the delta records
// the compactor works through (deltas.ts), all on one gateway (table.ts; keys: docs/DATA_MODEL.md).
import { EmbeddingDeltaStore } from './deltas';

/** Every embedding record: items, batch records, delta records (each file adds one kind). */
export class EmbeddingStore extends EmbeddingDeltaStore {}

export * from './types';
export { REUSED_FROM_INDEX, batchRecordKey, deltaKey, gsi2Partition, itemKeyOf, parseLineId } from './table';
