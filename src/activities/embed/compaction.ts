// The compactor's activities: the one compactor started or signalled, pending deltas listed and
// counted, a delta upserted into Chroma in heartbeated chunks, a delta that cannot be set aside.
import { ApplicationFailure, Context } from '@temporalio/activity';
import { parseDeltaNdjson, type DeltaRecord } from '../../domain/embedding';
import type { DeltaItem } from '../../stores/embeddings';
import type { EmbeddingDeps } from './deps';
import { setDeltaItems } from './repair';
import type { compactEmbeddings } from '../../workflows/embed/compaction';
import { compactRequestedSignal } from '../../workflows/embed/messages';

/** The records of one delta part file; a part that is gone or unreadable is final (DeltaMissing). */
async function deltaPart({ objects }: Pick<EmbeddingDeps, 'objects'>, key: string): Promise<DeltaRecord[]> {
  const text = await objects.getText(key);
  if (text === undefined)
    throw ApplicationFailure.nonRetryable(`Delta part ${key} is missing from S3`, 'DeltaMissing');
  try {
    return parseDeltaNdjson(text);
  } catch (err) {
    throw ApplicationFailure.nonRetryable(`Delta part ${key}: ${(err as Error).message}`, 'DeltaMissing');
  }
}

export function createCompactionActivities(deps: EmbeddingDeps) {
  const { embeddings, objects, vectors } = deps;
  return {
    /**
     * Signal-with-start of the compactor: starts it under its fixed id, or signals the one that
     * runs. Temporal allows one running execution per id, so there is never a second compactor.
     */
    async requestEmbeddingCompaction(input: {
      compactorId: string;
      reason: string;
    }): Promise<{ runId: string }> {
      const ctx = Context.current();
      const handle = await ctx.client.workflow.signalWithStart<
        typeof compactEmbeddings,
        [{ reason?: string }?]
      >('compactEmbeddings', {
        workflowId: input.compactorId,
        taskQueue: ctx.info.taskQueue,
        args: [{}],
        signal: compactRequestedSignal,
        signalArgs: [{ reason: input.reason }],
        memo: { pipeline: 'embed' },
      });
      return { runId: handle.signaledRunId };
    },

    async listPendingEmbeddingDeltas(input: { limit: number; runId?: string }): Promise<DeltaItem[]> {
      return embeddings.listPendingDeltas(input.limit, input.runId);
    },

    async countPendingEmbeddingDeltas(input: { runId?: string }): Promise<number> {
      return (await embeddings.listPendingDeltas(Number.MAX_SAFE_INTEGER, input.runId)).length;
    },

    /**
     * Upserts one delta into its Chroma collection in chunks, heartbeating the chunk reached (a
     * retried attempt resumes there; upserts are idempotent by id anyway), then marks it applied.
     */
    async applyEmbeddingDelta(input: {
      batchKey: string;
      chunkSize: number;
      deleteApplied: boolean;
      compactorRunId: string;
    }): Promise<{ records: number; applied: boolean }> {
      const ctx = Context.current();
      const delta = await embeddings.getDelta(input.batchKey);
      if (!delta || delta.state !== 'PENDING') return { records: delta?.records ?? 0, applied: false };
      const size = Math.max(1, input.chunkSize);
      const resume = (ctx.info.heartbeatDetails ?? {}) as { part?: number; chunk?: number };
      let upserted = 0;
      for (let p = resume.part ?? 0; p < delta.parts.length; p++) {
        const records = await deltaPart(deps, delta.parts[p]!);
        const firstChunk = p === resume.part ? (resume.chunk ?? 0) : 0;
        for (let c = firstChunk; c * size < records.length; c++) {
          const chunk = records.slice(c * size, (c + 1) * size);
          await vectors.upsert(delta.kind, chunk);
          upserted += chunk.length;
          ctx.heartbeat({ part: p, chunk: c + 1 });
        }
      }
      const applied = await embeddings.markDeltaApplied(delta, Date.now(), input.compactorRunId);
      // A redriven delta's items were held PENDING while it had failed: now they are in Chroma.
      if (delta.redrives) await setDeltaItems(deps, delta.batchKey, 'settle', () => ctx.heartbeat());
      if (input.deleteApplied) for (const key of delta.parts) await objects.delete(key);
      return { records: applied ? delta.records : upserted, applied };
    },

    /**
     * PENDING -> FAILED (it no longer blocks the others), and its items back from SUCCESS to PENDING:
     * they are not in Chroma until a redrive applies the delta.
     */
    async markEmbeddingDeltaFailed(input: { batchKey: string; reason: string }): Promise<void> {
      await embeddings.markDeltaFailed(input.batchKey, input.reason, Date.now());
      if ((await embeddings.getDelta(input.batchKey))?.state !== 'FAILED') return;
      try {
        await setDeltaItems(deps, input.batchKey, 'hold');
      } catch (err) {
        // Best effort: the redrive applies the delta either way; this only keeps the statuses honest.
        Context.current().log.warn(
          `embedding delta ${input.batchKey}: items not set back to PENDING: ${String(err)}`,
        );
      }
    },
  };
}
