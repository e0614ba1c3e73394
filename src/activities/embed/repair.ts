// Repairs of the embedding pipeline (issue 13, lost embeddings): items of a delta that could not be
// applied go back to PENDING until it is; FAILED deltas are redriven; closed poll workflows are
// found; items left PENDING by a dead run are put back to be embedded.
import { ApplicationFailure, Context } from '@temporalio/activity';
import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError } from '@temporalio/client';
import {
  EMBED_KINDS,
  EmbeddingInputError,
  decodeCustomId,
  parseBatchKey,
  type EmbedKind,
  type EmbedSettings,
} from '../../domain/embedding';
import { mapLimit } from '../../domain/chunk';
import type { BatchOutcome, BatchRecord, EmbeddableItem, EmbeddingStore } from '../../stores/embeddings';
import type { ObjectStore } from '../../stores/s3';
import { ITEM_UPDATE_CONCURRENCY, type EmbeddingDeps } from './deps';
import type { ReleaseEmbeddingBatchInput } from './release';
import type { pollEmbeddingBatch } from '../../workflows/embed/poll-batch';

/** A batch not yet at the provider is stale when its record is this old and its run is not running. */
export const STALE_BATCH_MS = 15 * 60_000;
const OPEN_BEFORE_SUBMIT: ReadonlyArray<BatchRecord['state']> = [
  'PREPARED',
  'CLAIMED',
  'UPLOADED',
  'CREATING',
];

/** The item ids a batch sent (its input file), empty when it never got one. */
async function batchItemIds(
  embeddings: EmbeddingStore,
  objects: ObjectStore,
  batchKey: string,
): Promise<{ kind: EmbedKind; ids: string[] }> {
  const { runId, kind, seq } = parseBatchKey(batchKey);
  const rec = await embeddings.getBatch(runId, kind, seq);
  const key = rec?.inputKey ?? rec?.candidatesKey;
  const text = key ? await objects.getText(key) : undefined;
  const ids: string[] = [];
  for (const raw of (text ?? '').split('\n')) {
    if (raw.trim() === '') continue;
    ids.push(decodeCustomId((JSON.parse(raw) as { custom_id: string }).custom_id).id);
  }
  return { kind, ids };
}

/**
 * Items of a delta that could not be applied: SUCCESS -> PENDING (`hold`), so no item says SUCCESS
 * while its vector is not in Chroma; or PENDING -> SUCCESS (`settle`) once the delta is applied.
 */
export async function setDeltaItems(
  deps: Pick<EmbeddingDeps, 'embeddings' | 'objects'>,
  batchKey: string,
  to: 'hold' | 'settle',
  heartbeat: () => void = () => undefined,
): Promise<number> {
  const { kind, ids } = await batchItemIds(deps.embeddings, deps.objects, batchKey);
  const now = Date.now();
  const done = await mapLimit(ids, ITEM_UPDATE_CONCURRENCY, async (id) => {
    heartbeat();
    return to === 'hold'
      ? deps.embeddings.unmarkEmbedded(kind, id, batchKey)
      : deps.embeddings.markEmbedded(kind, id, batchKey, now);
  });
  return done.filter(Boolean).length;
}

type ReleaseBatch = (input: ReleaseEmbeddingBatchInput) => Promise<BatchOutcome>;

/** RUNNING, or CLOSED (completed, failed, terminated, timed out, never started). */
async function workflowState(workflowId: string): Promise<'RUNNING' | 'CLOSED'> {
  try {
    const d = await Context.current().client.workflow.getHandle(workflowId).describe();
    return d.status.name === 'RUNNING' ? 'RUNNING' : 'CLOSED';
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return 'CLOSED';
    throw err;
  }
}

/** Starts a fresh poll workflow for a submitted batch (no parent waits for it). */
async function restartPoller(settings: EmbedSettings, batchKey: string): Promise<void> {
  const ctx = Context.current();
  try {
    await ctx.client.workflow.start<typeof pollEmbeddingBatch>('pollEmbeddingBatch', {
      workflowId: `embed-poll/${batchKey}`,
      taskQueue: ctx.info.taskQueue,
      args: [{ batchKey, settings }],
    });
  } catch (err) {
    // Its backfill (or another sweep) restarted it first: one poller runs, as it should.
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
  }
}

/** What to do with one batch holding PENDING items of another run. */
async function sweepBatch(
  deps: EmbeddingDeps,
  releaseBatch: ReleaseBatch,
  batchKey: string,
  items: EmbeddableItem[],
  maxAttempts: number,
): Promise<string> {
  const { embeddings } = deps;
  const { runId, kind, seq } = parseBatchKey(batchKey);
  const rec = await embeddings.getBatch(runId, kind, seq);
  if (rec && OPEN_BEFORE_SUBMIT.includes(rec.state)) {
    if (Date.now() - rec.createdAt < STALE_BATCH_MS || (await workflowState(runId)) === 'RUNNING')
      return 'live';
    if ((rec.state === 'UPLOADED' || rec.state === 'CREATING') && rec.fileId) {
      const since = Math.floor((rec.uploadedAt ?? rec.createdAt) / 1000) - 300;
      if (await deps.batchApi.findByInputFile(rec.fileId, since)) return 'at-provider';
    }
    await releaseBatch({
      batchKey,
      reason: `left ${rec.state} by run ${runId}, which is no longer running`,
      finalStatus: 'not_submitted',
      maxAttempts,
    });
    return 'released';
  }
  if (rec?.state === 'SUBMITTED') {
    if ((await workflowState(`embed-poll/${batchKey}`)) === 'RUNNING') return 'live';
    await restartPoller(deps.settings, batchKey);
    return 'poller-restarted';
  }
  // Settled batch (or none): an item still PENDING on it waits for its delta, or was missed.
  const delta = await embeddings.getDelta(batchKey);
  if (delta && delta.state !== 'APPLIED') return 'held-by-delta';
  const at = Date.now();
  await mapLimit(items, ITEM_UPDATE_CONCURRENCY, async (i) => {
    if (delta) await embeddings.markEmbedded(kind, i.id, batchKey, at);
    else
      await embeddings.release(kind, i.id, batchKey, i.attempts, maxAttempts, `left PENDING on ${batchKey}`);
  });
  return delta ? 'settled' : 'released';
}

export function createEmbedRepairActivities(deps: EmbeddingDeps, releaseBatch: ReleaseBatch) {
  const { embeddings } = deps;
  return {
    /** FAILED deltas back to PENDING (each at most `maxRedrives` times); how many were redriven. */
    async redriveFailedEmbeddingDeltas(input: { maxRedrives: number }): Promise<{ redriven: number }> {
      let redriven = 0;
      for (const d of await embeddings.listDeltas('FAILED')) {
        if (await embeddings.redriveDelta(d, input.maxRedrives)) redriven++;
      }
      return { redriven };
    },

    /** The batches (of those given) whose poll workflow is no longer running. */
    async closedEmbeddingPollers(input: { batchKeys: string[] }): Promise<string[]> {
      const states = await mapLimit(input.batchKeys, ITEM_UPDATE_CONCURRENCY, (k) =>
        workflowState(`embed-poll/${k}`),
      );
      return input.batchKeys.filter((_, i) => states[i] === 'CLOSED');
    },

    /**
     * Items left PENDING by a run that is no longer running (other than `runId`): a batch never
     * submitted is released (its items embedded again), a submitted batch without a poller gets a
     * new one (its output is read, not paid again). Returns the count per action.
     */
    async sweepStaleEmbeddingItems(input: {
      runId: string;
      maxAttempts: number;
    }): Promise<Record<string, number>> {
      const ctx = Context.current();
      const byBatch = new Map<string, EmbeddableItem[]>();
      for (const kind of EMBED_KINDS) {
        for (const item of await embeddings.listByStatus(kind, 'PENDING')) {
          if (!item.batch || item.batch.startsWith(`${input.runId}/`)) continue;
          byBatch.set(item.batch, [...(byBatch.get(item.batch) ?? []), item]);
        }
      }
      const counts: Record<string, number> = {};
      for (const [batchKey, items] of byBatch) {
        ctx.heartbeat(batchKey);
        let action: string;
        try {
          action = await sweepBatch(deps, releaseBatch, batchKey, items, input.maxAttempts);
        } catch (err) {
          if ((err instanceof ApplicationFailure && err.nonRetryable) || err instanceof EmbeddingInputError)
            action = 'unreadable';
          else throw err;
        }
        counts[action] = (counts[action] ?? 0) + items.length;
      }
      return counts;
    },
  };
}
