// processEmbeddingBatch: a batch in a final state with output (completed, expired, cancelled)
// becomes a delta (S3 parts + a PENDING delta record) first, then item statuses. Idempotent.
import { ApplicationFailure, Context } from '@temporalio/activity';
import { BatchResultJoiner, isFinalBatchStatus } from '../../domain/embedding';
import type { Batch } from '../../llm/batch-api';
import type { BatchOutcome, BatchRecord } from '../../stores/embeddings';
import { customIdFor, customIdsOf, failureOf, recordOf } from './batch-files';
import type { EmbeddingDeps } from './deps';
import { DeltaWriter } from './delta-writer';
import { settleItems } from './settle-items';

/** Heartbeats while a long download runs, a few times per heartbeat timeout. */
function heartbeatEvery(ctx: Context): NodeJS.Timeout {
  const timeout = ctx.info.heartbeatTimeoutMs ?? 60_000;
  return setInterval(() => ctx.heartbeat(), Math.max(200, Math.min(5_000, timeout / 3)));
}

/** Streams the output (vectors into the delta) and error files through the join with what was sent. */
async function joinResults(deps: EmbeddingDeps, ctx: Context, rec: BatchRecord, b: Batch) {
  const joiner = new BatchResultJoiner(await customIdsOf(deps.objects, rec));
  const delta = new DeltaWriter(deps, rec, () => ctx.heartbeat());
  const keepAlive = heartbeatEvery(ctx);
  try {
    if (b.output_file_id) {
      for await (const line of deps.batchApi.fileLines(b.output_file_id)) {
        const got = joiner.addLine(line);
        if (got) await delta.add(got);
      }
    }
    await delta.flush();
    if (b.error_file_id)
      for await (const line of deps.batchApi.fileLines(b.error_file_id)) joiner.addLine(line);
  } finally {
    clearInterval(keepAlive);
  }
  return { delta, errors: joiner.finish().errors };
}

export function createProcessResultsActivities(deps: EmbeddingDeps) {
  const { embeddings, batchApi } = deps;
  return {
    /**
     * A batch in a final state with output (completed, expired, cancelled): joins its output and
     * error files with what was sent, writes the delta (S3 object + PENDING delta record) first,
     * then marks embedded items SUCCESS and releases the rest. Idempotent.
     */
    async processEmbeddingBatch(input: { batchKey: string; maxAttempts: number }): Promise<BatchOutcome> {
      const ctx = Context.current();
      try {
        const rec = await recordOf(embeddings, input.batchKey);
        if ((rec.state === 'PROCESSED' || rec.state === 'RELEASED') && rec.outcome) return rec.outcome;
        const b = await batchApi.retrieve(rec.openaiBatchId!);
        if (!isFinalBatchStatus(b.status) || b.status === 'failed')
          throw ApplicationFailure.nonRetryable(
            `Batch ${input.batchKey} is ${b.status}, not a batch with results`,
            'InvalidInput',
          );
        const { delta, errors } = await joinResults(deps, ctx, rec, b);
        if (delta.records > 0) {
          // The delta is recorded before any item becomes SUCCESS: SUCCESS always has a vector behind it.
          const { batchKey, runId, kind } = rec;
          const { parts, records } = delta;
          await embeddings.putDelta({
            batchKey,
            runId,
            kind,
            parts,
            records,
            state: 'PENDING',
            createdAt: Date.now(),
          });
        }
        const missingReason = `missing from the output of a batch that ended ${b.status}`;
        const counts = await settleItems(deps, rec, {
          vectorsById: delta.vectorIds,
          reasonFor: (id) => errors.get(customIdFor(rec.kind, id)) ?? missingReason,
          maxAttempts: input.maxAttempts,
          heartbeat: () => ctx.heartbeat(),
        });
        const endedAt = b.completed_at ?? b.expired_at ?? b.cancelled_at ?? Math.floor(Date.now() / 1000);
        const outcome: BatchOutcome = {
          batchKey: rec.batchKey,
          kind: rec.kind,
          finalStatus: b.status,
          ...counts,
          promptTokens: b.usage?.input_tokens ?? 0,
          turnaroundMs: Math.max(0, (endedAt - b.created_at) * 1000),
        };
        await embeddings.transitionBatch(rec, 'SUBMITTED', 'PROCESSED', { outcome, status: b.status });
        return outcome;
      } catch (err) {
        throw failureOf(err);
      }
    },
  };
}
