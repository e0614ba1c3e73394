// What a poll workflow and a waiting backfill ask about batches: a batch's API status, and the
// outcomes of batches settled already.
import { ApplicationFailure } from '@temporalio/activity';
import { mapLimit } from '../../domain/chunk';
import type { BatchOutcome } from '../../stores/embeddings';
import { failureOf, recordOf } from './batch-files';
import { ITEM_UPDATE_CONCURRENCY, type EmbeddingDeps } from './deps';
import { batchCheckOf, type BatchCheck } from '../../llm/batch-api';

export type { BatchCheck };

export function createPollActivities({ embeddings, batchApi }: EmbeddingDeps) {
  return {
    /** One poll: the batch's API status (recorded on the batch record). */
    async checkEmbeddingBatch(input: { batchKey: string }): Promise<BatchCheck> {
      try {
        const rec = await recordOf(embeddings, input.batchKey);
        if (!rec.openaiBatchId)
          throw ApplicationFailure.nonRetryable(
            `Batch ${input.batchKey} was never submitted`,
            'InvalidInput',
          );
        const b = await batchApi.retrieve(rec.openaiBatchId);
        if (rec.status !== b.status) await embeddings.noteBatchStatus(rec, b.status);
        return batchCheckOf(b);
      } catch (err) {
        throw failureOf(err);
      }
    },

    /** Outcomes of batches already settled (a waiting backfill reconciles with these). */
    async embeddingBatchOutcomes(input: { batchKeys: string[] }): Promise<BatchOutcome[]> {
      const recs = await mapLimit(input.batchKeys, ITEM_UPDATE_CONCURRENCY, (key) =>
        recordOf(embeddings, key),
      );
      return recs.flatMap((rec) =>
        (rec.state === 'PROCESSED' || rec.state === 'RELEASED') && rec.outcome ? [rec.outcome] : [],
      );
    },
  };
}
