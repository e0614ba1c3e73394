// The first step of a submission: cut a batch from the items not yet embedded and record it
// (EMPTY, or PREPARED with its candidates file in S3).
import { chunkRequestLines, decodeCustomId, effectiveLimits, requestLine } from '../../domain/embedding';
import type { BatchRecord, EmbeddableItem } from '../../stores/embeddings';
import { customIdsOfNdjson, recordOf, s3KeyOf } from './batch-files';
import { chromaRecordOf } from './chroma-record';
import type { EmbeddingDeps } from './deps';
import { plannedCandidates } from './redrive-plan';
import type { SubmitEmbeddingBatchInput } from './submit';
import type { SubmitStep } from './submit-states';

type CandidateLine = { line: string; attempts: number };

/**
 * The candidates worth sending. A record Chroma already holds for the same document (e.g. the
 * harmonizer embedded the word) is not paid for twice: the item is marked embedded as it is; an
 * item with empty text can never be embedded and is marked so.
 */
async function usableCandidates(
  { embeddings, vectors }: Pick<EmbeddingDeps, 'embeddings' | 'vectors'>,
  input: SubmitEmbeddingBatchInput,
  found: EmbeddableItem[],
): Promise<{ usable: CandidateLine[]; reused: number }> {
  const stored = await vectors.get(
    input.kind,
    found.map((c) => c.id),
  );
  const usable: CandidateLine[] = [];
  let reused = 0;
  for (const c of found) {
    const { document } = chromaRecordOf(c);
    if (stored.get(c.id)?.document === document && document.trim() !== '') {
      if (await embeddings.markEmbeddedFromIndex(c.kind, c.id, Date.now())) reused++;
    } else if (c.text.trim() === '' || document.trim() === '')
      await embeddings.markUnembeddable(c.kind, c.id, 'empty text cannot be embedded');
    else usable.push({ line: requestLine(c.kind, c.id, document, input.model), attempts: c.attempts });
  }
  return { usable, reused };
}

/** Cuts and records the batch of a key that has no record yet; returns the record. */
export async function cutBatch(step: SubmitStep, input: SubmitEmbeddingBatchInput): Promise<BatchRecord> {
  const { deps, batchKey } = step;
  const { embeddings, objects } = deps;
  const limits = effectiveLimits({ maxRequests: input.maxRequests, maxBytes: input.maxBytes });
  const found = input.redrive
    ? await plannedCandidates(deps, input.runId, input.kind, limits.maxRequests)
    : await embeddings.listCandidates(input.kind, limits.maxRequests);
  const { usable, reused } = await usableCandidates(deps, input, found);
  const { batches, oversized } = chunkRequestLines(usable, limits);
  for (const o of oversized) {
    const { id } = decodeCustomId(customIdsOfNdjson(o.line)[0]!);
    await embeddings.markUnembeddable(input.kind, id, `request larger than ${limits.maxBytes} bytes`);
  }
  const chosen = batches[0] ?? [];
  const common = { batchKey, runId: input.runId, kind: input.kind, seq: input.seq, createdAt: Date.now() };
  if (chosen.length === 0) {
    await embeddings.createBatch({ ...common, state: 'EMPTY', candidates: found.length, reused });
  } else {
    // Candidates go to S3 before the record names them: a retry claims from this file.
    const candidatesKey = s3KeyOf(deps.s3Prefix, 'batches', `${step.base}/candidates-${step.attempt}.ndjson`);
    await objects.putText(candidatesKey, chosen.map((c) => c.line).join(''));
    await embeddings.createBatch({
      ...common,
      state: 'PREPARED',
      candidatesKey,
      candidates: chosen.length,
      retried: chosen.filter((c) => c.attempts > 0).length,
      reused,
    });
  }
  return recordOf(embeddings, batchKey);
}
