// submitEmbeddingBatch: cuts, records and submits one batch under a deterministic key, as a small
// state machine over its batch record (PREPARED -> CLAIMED -> UPLOADED -> CREATING -> SUBMITTED), so
// a retry resumes where the last attempt stopped, no item is ever submitted twice and no two
// attempts create a provider batch each.
import { Context } from '@temporalio/activity';
import { batchKeyOf, type EmbedKind } from '../../domain/embedding';
import type { BatchRecord, BatchState } from '../../stores/embeddings';
import { creationHolder } from '../shared/batch-creation';
import { heartbeating } from '../shared/heartbeating';
import { batchPath, failureOf, recordOf } from './batch-files';
import type { EmbeddingDeps } from './deps';
import { cutBatch } from './submit-cut';
import { awaitBatchCreation, claimBatchCreation } from './submit-create';
import { claimCandidates, uploadInput, type SubmitStep } from './submit-states';

export interface SubmitEmbeddingBatchInput {
  runId: string;
  kind: EmbedKind;
  seq: number;
  model: string;
  maxRequests: number;
  maxBytes: number;
  /** The run is a redrive: the batch is cut from its plan, not from every item not embedded. */
  redrive?: boolean;
}

export interface SubmitEmbeddingBatchResult {
  batchKey: string;
  /** SUBMITTED: a batch runs at the provider; EMPTY: nothing was claimed under this key. */
  state: 'SUBMITTED' | 'EMPTY';
  /** NOT_EMBEDDED items found when the batch was cut (0: nothing left to embed). */
  candidates: number;
  itemCount: number;
  retried: number;
  openaiBatchId?: string;
}

/** The step that moves a record out of each state on the way to the provider. */
const ADVANCE: Partial<Record<BatchState, (step: SubmitStep, rec: BatchRecord) => Promise<void>>> = {
  PREPARED: claimCandidates,
  CLAIMED: uploadInput,
  UPLOADED: claimBatchCreation,
  CREATING: awaitBatchCreation,
};

/** What a record that needs no more steps says: nothing claimed, or a batch at the provider. */
function resultOf(rec: BatchRecord): SubmitEmbeddingBatchResult {
  if (rec.state === 'EMPTY')
    return {
      batchKey: rec.batchKey,
      state: 'EMPTY',
      candidates: rec.candidates ?? 0,
      itemCount: 0,
      retried: 0,
    };
  return {
    batchKey: rec.batchKey,
    state: 'SUBMITTED',
    candidates: rec.candidates ?? 0,
    itemCount: rec.itemCount ?? 0,
    retried: rec.retried ?? 0,
    openaiBatchId: rec.openaiBatchId,
  };
}

export function createSubmitActivities(deps: EmbeddingDeps) {
  return {
    /**
     * Cuts, records and submits one batch under a deterministic key; resumes from the recorded
     * state on every retry (PREPARED -> CLAIMED -> UPLOADED -> CREATING -> SUBMITTED), so items are
     * never submitted twice whenever the worker dies, and an attempt that finds another creating
     * the batch waits for it.
     */
    async submitEmbeddingBatch(input: SubmitEmbeddingBatchInput): Promise<SubmitEmbeddingBatchResult> {
      const ctx = Context.current();
      const batchKey = batchKeyOf(input.runId, input.kind, input.seq);
      const { attempt } = ctx.info;
      const holder = creationHolder(attempt);
      const step: SubmitStep = { deps, ctx, batchKey, base: batchPath(batchKey), attempt, holder };
      try {
        // Heartbeats while a slow step runs (a provider call under load): an attempt that is alive
        // is not timed out and retried beside itself.
        return await heartbeating(async () => {
          let rec =
            (await deps.embeddings.getBatch(input.runId, input.kind, input.seq)) ??
            (await cutBatch(step, input));
          for (let advance = ADVANCE[rec.state]; advance; advance = ADVANCE[rec.state]) {
            await advance(step, rec);
            rec = await recordOf(deps.embeddings, batchKey);
          }
          return resultOf(rec);
        });
      } catch (err) {
        throw failureOf(err);
      }
    },
  };
}
