// Writes a batch's vectors to S3 part by part as its output streams in (never all in memory); only
// items the batch still holds go into its delta.
import { decodeCustomId, deltaToNdjson, type DeltaRecord } from '../../domain/embedding';
import type { BatchRecord } from '../../stores/embeddings';
import { batchPath, s3KeyOf } from './batch-files';
import { chromaRecordOf } from './chroma-record';
import type { EmbeddingDeps } from './deps';

export class DeltaWriter {
  /** Items whose vector is in a written part. */
  readonly vectorIds = new Set<string>();
  /** S3 keys of the parts written, in order. */
  readonly parts: string[] = [];
  records = 0;
  private waiting: Array<{ customId: string; vector: number[] }> = [];

  constructor(
    private readonly deps: Pick<EmbeddingDeps, 'embeddings' | 'objects' | 's3Prefix' | 'settings'>,
    private readonly rec: BatchRecord,
    private readonly heartbeat: () => void,
  ) {}

  /** Adds a vector; writes a part once `deltaPartRecords` are waiting. */
  async add(got: { customId: string; vector: number[] }): Promise<void> {
    this.waiting.push(got);
    if (this.waiting.length >= this.deps.settings.deltaPartRecords) await this.flush();
  }

  /** Writes what is waiting as one part (nothing when no waiting item is still the batch's). */
  async flush(): Promise<void> {
    const { rec } = this;
    if (this.waiting.length === 0) return;
    const waiting = this.waiting;
    this.waiting = [];
    const items = await this.deps.embeddings.getItems(
      rec.kind,
      waiting.map((w) => decodeCustomId(w.customId).id),
    );
    const part: DeltaRecord[] = [];
    for (const { customId, vector } of waiting) {
      const item = items.get(decodeCustomId(customId).id);
      // Only items this batch holds (or already embedded) go into its delta.
      if (!item || item.batch !== rec.batchKey || (item.status !== 'PENDING' && item.status !== 'SUCCESS'))
        continue;
      this.vectorIds.add(item.id);
      const r = chromaRecordOf(item);
      part.push({ kind: rec.kind, id: r.id, vector, document: r.document, metadata: r.metadata });
    }
    if (part.length === 0) return;
    const name = `${batchPath(rec.batchKey)}/part-${String(this.parts.length).padStart(5, '0')}.ndjson`;
    const key = s3KeyOf(this.deps.s3Prefix, 'deltas', name);
    await this.deps.objects.putText(key, deltaToNdjson(part));
    this.parts.push(key);
    this.records += part.length;
    this.heartbeat();
  }
}
