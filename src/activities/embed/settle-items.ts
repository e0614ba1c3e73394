// The final item statuses of a settled batch (results processed, or the batch released).
import { decodeCustomId } from '../../domain/embedding';
import { mapLimit } from '../../domain/chunk';
import type { EmbeddingStatus } from '../../domain/receipt';
import type { BatchOutcome, BatchRecord } from '../../stores/embeddings';
import { customIdsOf } from './batch-files';
import { ITEM_UPDATE_CONCURRENCY, type EmbeddingDeps } from './deps';

export interface SettleItems {
  /** Items whose vector is in the batch's delta. */
  vectorsById: ReadonlySet<string>;
  /** Why an item without a vector was not embedded. */
  reasonFor: (id: string) => string;
  maxAttempts: number;
  heartbeat: () => void;
}

/**
 * Sets the final item statuses of a batch and returns its outcome. Items still PENDING on this
 * batch move to SUCCESS (vector in hand) or back to NOT_EMBEDDED/FAILED (with a reason); items it
 * moved already (a retried attempt, or one running beside it) are only counted.
 */
export async function settleItems(
  { embeddings, objects }: Pick<EmbeddingDeps, 'embeddings' | 'objects'>,
  rec: BatchRecord,
  { vectorsById, reasonFor, maxAttempts, heartbeat }: SettleItems,
): Promise<Pick<BatchOutcome, 'embedded' | 'released' | 'failed'>> {
  const ids = (await customIdsOf(objects, rec)).map((c) => decodeCustomId(c).id);
  const items = await embeddings.getItems(rec.kind, ids);
  const out = { embedded: 0, released: 0, failed: 0 };
  const count = (status: EmbeddingStatus | undefined) => {
    if (status === 'SUCCESS') out.embedded++;
    else if (status === 'NOT_EMBEDDED') out.released++;
    else if (status === 'FAILED') out.failed++;
  };
  const now = Date.now();
  // Items whose move another attempt made first (a retry running beside a timed-out attempt).
  const lost: string[] = [];
  await mapLimit([...items.values()], ITEM_UPDATE_CONCURRENCY, async (item) => {
    heartbeat();
    if (item.batch !== rec.batchKey) return; // never ours, or taken by a later batch
    if (item.status !== 'PENDING') return count(item.status);
    const moved = vectorsById.has(item.id)
      ? (await embeddings.markEmbedded(rec.kind, item.id, rec.batchKey, now)) && 'SUCCESS'
      : await embeddings.release(
          rec.kind,
          item.id,
          rec.batchKey,
          item.attempts,
          maxAttempts,
          reasonFor(item.id),
        );
    if (moved) count(moved);
    else lost.push(item.id);
  });
  // Counted as the other attempt left them, so whichever attempt records the outcome counts them all.
  for (const item of lost.length ? (await embeddings.getItems(rec.kind, lost)).values() : [])
    count(item.batch === rec.batchKey ? item.status : 'NOT_EMBEDDED'); // released, then claimed again
  return out;
}
