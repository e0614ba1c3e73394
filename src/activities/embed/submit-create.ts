// The embedding batch record's side of the shared creation step (UPLOADED -> CREATING -> SUBMITTED,
// ../shared/batch-creation.ts): its conditional writes, and an embeddings batch tagged with its key.
import type { BatchRecord } from '../../stores/embeddings';
import { awaitOrTakeOverCreation, claimCreation, type BatchCreation } from '../shared/batch-creation';
import type { SubmitStep } from './submit-states';

function creationOf(step: SubmitStep): BatchCreation<BatchRecord> {
  const { embeddings, batchApi } = step.deps;
  return {
    records: {
      transition: (rec, from, to, fields, when) => embeddings.transitionBatch(rec, from, to, fields, when),
      reread: (rec) => embeddings.getBatch(rec.runId, rec.kind, rec.seq),
    },
    batchApi,
    ctx: step.ctx,
    holder: step.holder,
    // The record's key finds a batch made from another upload of it (the provider allows 512 characters).
    metadata: { batch_key: step.batchKey.slice(0, 512) },
    create: (fileId, metadata) => batchApi.createEmbeddingsBatch(fileId, metadata),
  };
}

/** UPLOADED -> CREATING: this attempt takes the creation step, then creates (or finds) the batch. */
export const claimBatchCreation = (step: SubmitStep, rec: BatchRecord) =>
  claimCreation(creationOf(step), rec);

/** CREATING: waits while another attempt holds the step, or takes over a lapsed claim. */
export const awaitBatchCreation = (step: SubmitStep, rec: BatchRecord) =>
  awaitOrTakeOverCreation(creationOf(step), rec);
