// The last step of a submission, UPLOADED -> CREATING -> SUBMITTED: one attempt at a time holds the
// right to create the provider batch (a conditional claim with a lease in the batch record), so a
// retry started while a slow attempt still runs waits for it instead of creating a second batch.
import type { Batch } from '../../llm/batch-api';
import type { BatchRecord } from '../../stores/embeddings';
import type { SubmitStep } from './submit-states';

/**
 * Added to the create request's own timeout to make the lease: clock skew between workers and the
 * record write before the request. A holder's lease always outlasts the request it may be making.
 */
export const CREATE_LEASE_MARGIN_MS = 5_000;
/** How often an attempt waiting for another attempt's creation reads the record (heartbeating). */
export const CREATE_WAIT_POLL_MS = 500;

/** When a claim (or its renewal) taken now lapses: after the longest create request, and a margin. */
function leaseEnd(step: SubmitStep): number {
  return Date.now() + step.deps.batchApi.createTimeoutMs + CREATE_LEASE_MARGIN_MS;
}

/** The metadata a batch is created with: its record's key (the provider allows 512 characters). */
function batchMetadata(step: SubmitStep): Record<string, string> {
  return { batch_key: step.batchKey.slice(0, 512) };
}

/** UPLOADED -> CREATING: this attempt takes the creation step (an attempt that took it first wins). */
export async function claimCreation(step: SubmitStep, rec: BatchRecord) {
  const won = await step.deps.embeddings.transitionBatch(rec, 'UPLOADED', 'CREATING', {
    creatingBy: step.holder,
    creatingUntil: leaseEnd(step),
  });
  if (won) await createHeldBatch(step, rec);
}

/**
 * CREATING, held by another attempt: waits (heartbeating) while its lease runs, then takes it over;
 * the record read again after each wait shows whether the holder got the batch to SUBMITTED.
 */
export async function awaitOrTakeOverCreation(step: SubmitStep, rec: BatchRecord) {
  if (rec.creatingBy !== step.holder && Date.now() < (rec.creatingUntil ?? 0)) {
    step.ctx.heartbeat();
    await step.ctx.sleep(CREATE_WAIT_POLL_MS);
    return;
  }
  const won = await step.deps.embeddings.transitionBatch(
    rec,
    'CREATING',
    'CREATING',
    { creatingBy: step.holder, creatingUntil: leaseEnd(step) },
    rec.creatingBy ? { creatingBy: rec.creatingBy } : {},
  );
  if (won) await createHeldBatch(step, rec);
}

/**
 * With the creation step held: the batch an earlier attempt made (found by its input file or its
 * key), else a new one, recorded SUBMITTED. A failure gives the lease up, so the next attempt takes
 * over at once (and looks for a batch before it creates one).
 */
async function createHeldBatch(step: SubmitStep, rec: BatchRecord) {
  const { embeddings, batchApi } = step.deps;
  try {
    step.ctx.heartbeat();
    const since = Math.floor((rec.uploadedAt ?? rec.createdAt) / 1000) - 300;
    const found = await batchApi.findByInputFile(rec.fileId!, since, batchMetadata(step));
    if (found) return await recordSubmitted(step, rec, found, false);
    const made = await createIfStillHeld(step, rec);
    if (made) await recordSubmitted(step, rec, made, true);
  } catch (err) {
    await embeddings
      .transitionBatch(rec, 'CREATING', 'CREATING', { creatingUntil: 0 }, { creatingBy: step.holder })
      .catch(() => undefined);
    throw err;
  }
}

/**
 * Creates the batch if this attempt still holds the step, renewing its lease first: the lease then
 * outlasts the request, so no attempt takes over (and looks for the batch) while it may still be
 * created. Undefined when another attempt took the step over (this one's lease had lapsed).
 */
async function createIfStillHeld(step: SubmitStep, rec: BatchRecord): Promise<Batch | undefined> {
  const held = await step.deps.embeddings.transitionBatch(
    rec,
    'CREATING',
    'CREATING',
    { creatingUntil: leaseEnd(step) },
    { creatingBy: step.holder },
  );
  if (!held) return undefined;
  step.ctx.heartbeat();
  return step.deps.batchApi.createEmbeddingsBatch(rec.fileId!, batchMetadata(step));
}

/** CREATING -> SUBMITTED; a batch this attempt made that the record does not name is cancelled. */
async function recordSubmitted(step: SubmitStep, rec: BatchRecord, batch: Batch, made: boolean) {
  const { embeddings, batchApi } = step.deps;
  const won = await embeddings.transitionBatch(rec, 'CREATING', 'SUBMITTED', {
    openaiBatchId: batch.id,
    submittedAt: Date.now(),
    status: batch.status,
  });
  if (won || !made) return;
  const now = await embeddings.getBatch(rec.runId, rec.kind, rec.seq);
  if (now?.openaiBatchId !== batch.id) await batchApi.cancel(batch.id).catch(() => undefined);
}
