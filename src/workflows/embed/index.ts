// The embedding pipeline's workflows (seed 003): embedBackfill submits and waits (backfill*.ts),
// one pollEmbeddingBatch per batch (poll-batch.ts), one compactEmbeddings under a fixed id
// (compaction.ts); signals and queries in messages.ts, activity options in options.ts.
export { embedBackfill, type BackfillCarry, type EmbedBackfillInput } from './backfill';
export {
  pollEmbeddingBatch,
  type PollEmbeddingBatchInput,
  type PollEmbeddingBatchResult,
} from './poll-batch';
export {
  compactEmbeddings,
  triggerEmbeddingCompaction,
  type CompactEmbeddingsInput,
  type CompactionSummary,
} from './compaction';
export * from './messages';
export { WAIT_CONTINUE_AS_NEW_PATCH } from './backfill-wait';
