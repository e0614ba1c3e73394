// releaseEmbeddingBatch: a batch whose items go back to be embedded again (or FAILED once their
// attempts are spent), with the reason.
import { Context } from '@temporalio/activity';
import type { BatchOutcome } from '../../stores/embeddings';
import { failureOf, recordOf } from './batch-files';
import type { EmbeddingDeps } from './deps';
import { settleItems } from './settle-items';

export interface ReleaseEmbeddingBatchInput {
  batchKey: string;
  reason: string;
  /** The batch's final API status, or why it never reached one (`not_submitted`, `unknown`). */
  finalStatus: string;
  maxAttempts: number;
}

export function createReleaseActivities(deps: EmbeddingDeps) {
  const { embeddings } = deps;
  return {
    /**
     * Gives a batch's items back (a failed batch, a submission that could not finish, a batch that
     * cannot be checked): each goes back to NOT_EMBEDDED with one more attempt, or FAILED.
     */
    async releaseEmbeddingBatch(input: ReleaseEmbeddingBatchInput): Promise<BatchOutcome> {
      const ctx = Context.current();
      try {
        const rec = await recordOf(embeddings, input.batchKey);
        if ((rec.state === 'PROCESSED' || rec.state === 'RELEASED') && rec.outcome) return rec.outcome;
        const counts = await settleItems(deps, rec, {
          vectorsById: new Set(),
          reasonFor: () => input.reason,
          maxAttempts: input.maxAttempts,
          heartbeat: () => ctx.heartbeat(),
        });
        const outcome: BatchOutcome = {
          batchKey: rec.batchKey,
          kind: rec.kind,
          finalStatus: input.finalStatus,
          ...counts,
          promptTokens: 0,
          turnaroundMs: Math.max(0, Date.now() - (rec.submittedAt ?? rec.createdAt)),
        };
        await embeddings.transitionBatch(
          rec,
          ['PREPARED', 'CLAIMED', 'UPLOADED', 'CREATING', 'SUBMITTED'],
          'RELEASED',
          {
            outcome,
            reason: input.reason.slice(0, 1000),
          },
        );
        return outcome;
      } catch (err) {
        throw failureOf(err);
      }
    },
  };
}
