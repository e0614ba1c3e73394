// One function per state of a batch record on its way to the provider: each does its step and
// moves the record on with a conditional write (a concurrent attempt that moved it first wins);
// the provider batch itself is created in submit-create.ts.
import { ApplicationFailure, type Context } from '@temporalio/activity';
import { decodeCustomId } from '../../domain/embedding';
import { mapLimit } from '../../domain/chunk';
import type { BatchRecord } from '../../stores/embeddings';
import { customIdsOfNdjson, s3KeyOf } from './batch-files';
import { ITEM_UPDATE_CONCURRENCY, type EmbeddingDeps } from './deps';

/** What every step of one submission attempt works with. */
export interface SubmitStep {
  deps: EmbeddingDeps;
  ctx: Context;
  batchKey: string;
  /** `<runId>/<kind>-<seq>`, the batch's part of its S3 keys. */
  base: string;
  /** The activity attempt: files of different attempts never overwrite each other. */
  attempt: number;
  /** This attempt, unique (two attempts may share a number): who holds a CREATING record. */
  holder: string;
}

/** PREPARED -> CLAIMED (the input file names the items this batch holds) or EMPTY (none could be). */
export async function claimCandidates({ deps, ctx, batchKey, base, attempt }: SubmitStep, rec: BatchRecord) {
  const { embeddings, objects } = deps;
  const text = (await objects.getText(rec.candidatesKey!)) ?? '';
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  const ok = await mapLimit(lines, ITEM_UPDATE_CONCURRENCY, async (line) => {
    ctx.heartbeat();
    const { kind, id } = decodeCustomId(customIdsOfNdjson(line)[0]!);
    return embeddings.claim(kind, id, batchKey);
  });
  const claimed = lines.filter((_, i) => ok[i]).map((l) => l + '\n');
  if (claimed.length === 0) {
    await embeddings.transitionBatch(rec, 'PREPARED', 'EMPTY', { itemCount: 0 });
    return;
  }
  const inputKey = s3KeyOf(deps.s3Prefix, 'batches', `${base}/input-${attempt}.ndjson`);
  const body = claimed.join('');
  await objects.putText(inputKey, body);
  await embeddings.transitionBatch(rec, 'PREPARED', 'CLAIMED', {
    inputKey,
    itemCount: claimed.length,
    bytes: Buffer.byteLength(body),
  });
}

/** CLAIMED -> UPLOADED: the input file at the provider. */
export async function uploadInput({ deps, ctx, base }: SubmitStep, rec: BatchRecord) {
  const body = await deps.objects.getText(rec.inputKey!);
  if (body === undefined)
    throw ApplicationFailure.nonRetryable(`Input file ${rec.inputKey} is missing from S3`, 'InvalidInput');
  ctx.heartbeat();
  const fileId = await deps.batchApi.uploadInputFile(body, `${base.replace(/[^\w.-]+/g, '_')}.jsonl`);
  const won = await deps.embeddings.transitionBatch(rec, 'CLAIMED', 'UPLOADED', {
    fileId,
    uploadedAt: Date.now(),
  });
  if (!won) await deps.batchApi.deleteFile(fileId).catch(() => undefined); // a concurrent attempt uploaded first
}
