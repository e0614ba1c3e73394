// The step that creates a provider batch for a record on its way to the Batch API, UPLOADED ->
// CREATING -> SUBMITTED: one attempt at a time holds the right to create it (a conditional claim with
// a lease in the record), so a retry started while a slow attempt still runs waits for it instead of
// creating a second batch. Used by the embedding batches and the batch-mode jobs alike.
import { randomUUID } from 'node:crypto';
import type { Context } from '@temporalio/activity';
import type { Batch, BatchApi } from '../../llm/batch-api';
import type { BatchSubmissionFields } from '../../stores/batch-submission';

/**
 * Added to the create request's own timeout to make the lease: clock skew between workers and the
 * record write before the request. A holder's lease always outlasts the request it may be making.
 */
export const CREATE_LEASE_MARGIN_MS = 5_000;
/** How often an attempt waiting for another attempt's creation reads the record (heartbeating). */
export const CREATE_WAIT_POLL_MS = 500;

/** What the creation step reads of a record. */
export type CreationRecord = BatchSubmissionFields;

/** What the creation step writes on a record. */
export type CreationFields = Pick<
  BatchSubmissionFields,
  'creatingBy' | 'creatingUntil' | 'openaiBatchId' | 'submittedAt' | 'status'
>;

/** The conditional writes of the creation step on one kind of record. */
export interface CreationRecords<R extends CreationRecord> {
  /**
   * `from` -> `to` with `fields` set; false when the record was not in `from`, or its `creatingBy`
   * is not `when.creatingBy` (when given).
   */
  transition(
    rec: R,
    from: 'UPLOADED' | 'CREATING',
    to: 'CREATING' | 'SUBMITTED',
    fields: CreationFields,
    when?: { creatingBy?: string },
  ): Promise<boolean>;
  /** The record as stored now (a consistent read). */
  reread(rec: R): Promise<R | undefined>;
}

/** One attempt's creation step: the record's writes, the provider, and who this attempt is. */
export interface BatchCreation<R extends CreationRecord> {
  records: CreationRecords<R>;
  batchApi: Pick<BatchApi, 'createTimeoutMs' | 'findByInputFile' | 'cancel'>;
  ctx: Pick<Context, 'heartbeat' | 'sleep'>;
  /** This attempt, unique (two attempts may share a number): who holds a CREATING record. */
  holder: string;
  /** What the batch is created with, and found by when an earlier attempt made it. */
  metadata: Record<string, string>;
  /** Makes the batch from the record's input file, carrying `metadata`. */
  create(fileId: string, metadata: Record<string, string>): Promise<Batch>;
}

/** Who one activity attempt is, as the holder of a CREATING record (attempt numbers alone can repeat). */
export function creationHolder(attempt: number): string {
  return `${attempt}-${randomUUID()}`;
}

/** When a claim (or its renewal) taken now lapses: after the longest create request, and a margin. */
function leaseEnd<R extends CreationRecord>(c: BatchCreation<R>): number {
  return Date.now() + c.batchApi.createTimeoutMs + CREATE_LEASE_MARGIN_MS;
}

/** UPLOADED -> CREATING: this attempt takes the creation step (an attempt that took it first wins). */
export async function claimCreation<R extends CreationRecord>(c: BatchCreation<R>, rec: R) {
  const won = await c.records.transition(rec, 'UPLOADED', 'CREATING', {
    creatingBy: c.holder,
    creatingUntil: leaseEnd(c),
  });
  if (won) await createHeldBatch(c, rec);
}

/**
 * CREATING, held by another attempt: waits (heartbeating) while its lease runs, then takes it over;
 * the record read again after each wait shows whether the holder got the batch to SUBMITTED.
 */
export async function awaitOrTakeOverCreation<R extends CreationRecord>(c: BatchCreation<R>, rec: R) {
  if (rec.creatingBy !== c.holder && Date.now() < (rec.creatingUntil ?? 0)) {
    c.ctx.heartbeat();
    await c.ctx.sleep(CREATE_WAIT_POLL_MS);
    return;
  }
  const won = await c.records.transition(
    rec,
    'CREATING',
    'CREATING',
    { creatingBy: c.holder, creatingUntil: leaseEnd(c) },
    rec.creatingBy ? { creatingBy: rec.creatingBy } : {},
  );
  if (won) await createHeldBatch(c, rec);
}

/**
 * With the creation step held: the batch an earlier attempt made (found by its input file or its
 * metadata), else a new one, recorded SUBMITTED. A failure gives the lease up, so the next attempt
 * takes over at once (and looks for a batch before it creates one).
 */
async function createHeldBatch<R extends CreationRecord>(c: BatchCreation<R>, rec: R) {
  try {
    c.ctx.heartbeat();
    const since = Math.floor((rec.uploadedAt ?? rec.createdAt) / 1000) - 300;
    const found = await c.batchApi.findByInputFile(rec.fileId!, since, c.metadata);
    if (found) return await recordSubmitted(c, rec, found, false);
    const made = await createIfStillHeld(c, rec);
    if (made) await recordSubmitted(c, rec, made, true);
  } catch (err) {
    await c.records
      .transition(rec, 'CREATING', 'CREATING', { creatingUntil: 0 }, { creatingBy: c.holder })
      .catch(() => undefined);
    throw err;
  }
}

/**
 * Creates the batch if this attempt still holds the step, renewing its lease first: the lease then
 * outlasts the request, so no attempt takes over (and looks for the batch) while it may still be
 * created. Undefined when another attempt took the step over (this one's lease had lapsed).
 */
async function createIfStillHeld<R extends CreationRecord>(c: BatchCreation<R>, rec: R) {
  const held = await c.records.transition(
    rec,
    'CREATING',
    'CREATING',
    { creatingUntil: leaseEnd(c) },
    { creatingBy: c.holder },
  );
  if (!held) return undefined;
  c.ctx.heartbeat();
  return c.create(rec.fileId!, c.metadata);
}

/** CREATING -> SUBMITTED; a batch this attempt made that the record does not name is cancelled. */
async function recordSubmitted<R extends CreationRecord>(
  c: BatchCreation<R>,
  rec: R,
  batch: Batch,
  made: boolean,
) {
  const won = await c.records.transition(rec, 'CREATING', 'SUBMITTED', {
    openaiBatchId: batch.id,
    submittedAt: Date.now(),
    status: batch.status,
  });
  if (won || !made) return;
  const now = await c.records.reread(rec);
  if (now?.openaiBatchId !== batch.id) await c.batchApi.cancel(batch.id).catch(() => undefined);
}
