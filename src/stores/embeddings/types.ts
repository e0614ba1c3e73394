// The records of the embedding pipeline: a line's or word's embedding status, a batch record (its
// submission state machine) and a delta record (vectors waiting for Chroma); see docs/DATA_MODEL.md.
import type { EmbedKind } from '../../domain/embedding';
import type { EmbeddingStatus } from '../../domain/receipt';
import type { BatchSubmissionFields } from '../batch-submission';

/**
 * Submission state machine of a batch record (see docs/DATA_MODEL.md). CREATING: one attempt holds
 * the right to create the provider batch (records written before it existed go UPLOADED -> SUBMITTED).
 */
export type BatchState =
  'PREPARED' | 'CLAIMED' | 'UPLOADED' | 'CREATING' | 'SUBMITTED' | 'PROCESSED' | 'RELEASED' | 'EMPTY';

export interface BatchOutcome {
  batchKey: string;
  kind: EmbedKind;
  /** API status the batch ended with (completed, expired, cancelled, failed) or why it was released. */
  finalStatus: string;
  embedded: number;
  /** Went back to NOT_EMBEDDED, to be resubmitted. */
  released: number;
  /** Gave up on (attempts exhausted). */
  failed: number;
  promptTokens: number;
  /** Batch created -> final status seen, in ms. */
  turnaroundMs: number;
}

/** A batch record; its Batch API fields (file, creation claim, batch, last status) are the shared ones. */
export interface BatchRecord extends BatchSubmissionFields {
  batchKey: string;
  runId: string;
  kind: EmbedKind;
  seq: number;
  state: BatchState;
  candidatesKey?: string;
  candidates?: number;
  inputKey?: string;
  itemCount?: number;
  /** Items of this batch that had been tried before (resubmissions). */
  retried?: number;
  /** Candidates found already in Chroma with the same document: marked SUCCESS, not sent. */
  reused?: number;
  bytes?: number;
  outcome?: BatchOutcome;
  reason?: string;
}

export interface DeltaItem {
  batchKey: string;
  runId: string;
  kind: EmbedKind;
  /** S3 keys of its part files (`deltas/<runId>/<kind>-<seq>/part-<n>.ndjson`), applied in order. */
  parts: string[];
  records: number;
  state: 'PENDING' | 'APPLIED' | 'FAILED';
  createdAt: number;
  reason?: string;
  appliedAt?: number;
  appliedBy?: string;
  /** Times a FAILED delta was put back to PENDING to be applied again. */
  redrives?: number;
}

/** The parts of a line or word item the pipeline reads: to cut batches, to write deltas. */
export interface EmbeddableItem {
  kind: EmbedKind;
  id: string;
  text: string;
  /** Failed batches it was part of. */
  attempts: number;
  receiptId: string;
  merchantId: string;
  status: EmbeddingStatus;
  batch?: string;
  label?: string;
  validationStatus?: string;
  lineIndex: number;
  wordIndex?: number;
  /** Why the last batch did not embed it. */
  failureReason?: string;
  /** Text of a word's line (words are embedded in context). */
  lineText?: string;
}
