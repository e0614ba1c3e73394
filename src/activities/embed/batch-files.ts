// A batch's record and its files: where its S3 objects live, the custom_ids it stands for, and how
// its failures reach the workflow (bad input not retried).
import { ApplicationFailure } from '@temporalio/activity';
import { EmbeddingInputError, parseBatchKey, type EmbedKind } from '../../domain/embedding';
import { toActivityFailure } from '../../llm/errors';
import type { BatchRecord, EmbeddingStore } from '../../stores/embeddings';
import type { ObjectStore } from '../../stores/s3';

/** `<runId>/<kind>-<seq>`: the part of a batch's S3 keys that names it. */
export function batchPath(batchKey: string): string {
  const { runId, kind, seq } = parseBatchKey(batchKey);
  return `${runId}/${kind.toLowerCase()}-${String(seq).padStart(5, '0')}`;
}

/** An S3 key of the pipeline: `<prefix><area>/<rest>`. */
export function s3KeyOf(prefix: string, area: 'batches' | 'deltas' | 'snapshots', rest: string): string {
  return `${prefix}${area}/${rest}`;
}

/** The batch record of a key; a key without one is bad input. */
export async function recordOf(embeddings: EmbeddingStore, batchKey: string): Promise<BatchRecord> {
  const { runId, kind, seq } = parseBatchKey(batchKey);
  const rec = await embeddings.getBatch(runId, kind, seq);
  if (!rec) throw ApplicationFailure.nonRetryable(`No embedding batch record ${batchKey}`, 'InvalidInput');
  return rec;
}

/** The custom_ids a batch record stands for: its input file once claimed, else its candidates. */
export async function customIdsOf(objects: ObjectStore, rec: BatchRecord): Promise<string[]> {
  const key = rec.inputKey ?? rec.candidatesKey;
  if (!key) return [];
  const text = await objects.getText(key);
  if (text === undefined)
    throw ApplicationFailure.nonRetryable(
      `Batch file ${key} of ${rec.batchKey} is missing from S3`,
      'InvalidInput',
    );
  return customIdsOfNdjson(text);
}

/** custom_ids of an NDJSON request file, in order. */
export function customIdsOfNdjson(text: string): string[] {
  const out: string[] = [];
  for (const raw of text.split('\n')) {
    if (raw.trim() === '') continue;
    const id = (JSON.parse(raw) as { custom_id?: unknown }).custom_id;
    if (typeof id !== 'string') throw new EmbeddingInputError('request line without custom_id');
    out.push(id);
  }
  return out;
}

export function customIdFor(kind: EmbedKind, id: string): string {
  return `${kind === 'LINE' ? 'line' : 'word'}:${id}`;
}

/** Provider errors become typed ApplicationFailures; bad input is not retried. */
export function failureOf(err: unknown): unknown {
  if (err instanceof ApplicationFailure) return err;
  if (err instanceof EmbeddingInputError) return ApplicationFailure.nonRetryable(err.message, 'InvalidInput');
  return toActivityFailure(err);
}
