// DynamoDB side of the embedding pipeline: embedding status of lines and words (GSI2), the batch
// records that make submission idempotent, and the delta records the compactor works through
// (keys and state machines: docs/DATA_MODEL.md).
import {
  BatchGetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
  type DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';
import type { EmbedKind } from '../domain/embedding';
import type { EmbeddingStatus } from '../domain/receipt';
import { keys, parseWordId } from './receipts';
import { runPartition } from './runs';
import { boundText, MAX_PROVIDER_TEXT } from '../domain/bounded-text';

type Key = { PK: string; SK: string };
type Item = Record<string, unknown>;

/** Submission state machine of a batch record (see docs/DATA_MODEL.md). */
export type BatchState =
  'PREPARED' | 'CLAIMED' | 'UPLOADED' | 'SUBMITTED' | 'PROCESSED' | 'RELEASED' | 'EMPTY';

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

export interface BatchRecord {
  batchKey: string;
  runId: string;
  kind: EmbedKind;
  seq: number;
  state: BatchState;
  createdAt: number;
  candidatesKey?: string;
  candidates?: number;
  inputKey?: string;
  itemCount?: number;
  /** Items of this batch that had been tried before (resubmissions). */
  retried?: number;
  /** Candidates found already in Chroma with the same document: marked SUCCESS, not sent. */
  reused?: number;
  bytes?: number;
  fileId?: string;
  uploadedAt?: number;
  openaiBatchId?: string;
  submittedAt?: number;
  /** Last API status seen by the poller. */
  status?: string;
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

/** `embeddingBatch` of an item found already embedded in Chroma. */
export const REUSED_FROM_INDEX = 'chroma';

export const gsi2Partition = (kind: EmbedKind, status: EmbeddingStatus) => `EMBED#${kind}#${status}`;

/** Line ids are `<receiptId>#L<nnn>`. */
export function parseLineId(lineId: string): { receiptId: string; lineIndex: number } {
  const m = /^(.*)#L(\d+)$/.exec(lineId);
  if (!m) throw new Error(`Malformed line id ${JSON.stringify(lineId)}`);
  return { receiptId: m[1]!, lineIndex: Number(m[2]) };
}

export function itemKeyOf(kind: EmbedKind, id: string): Key {
  if (kind === 'WORD') {
    const w = parseWordId(id);
    return keys.word(w.receiptId, w.lineIndex, w.wordIndex);
  }
  const l = parseLineId(id);
  return keys.line(l.receiptId, l.lineIndex);
}

export const batchRecordKey = (runId: string, kind: EmbedKind, seq: number): Key => ({
  PK: runPartition(runId),
  SK: `EMBEDBATCH#${kind}-${String(seq).padStart(5, '0')}`,
});
export const deltaKey = (batchKey: string): Key => ({ PK: `EMBEDDELTA#${batchKey}`, SK: 'META' });
const OPEN_BATCHES = 'EMBEDBATCHES#OPEN';
const deltaPartition = (state: DeltaItem['state']) => `EMBEDDELTAS#${state}`;
const stamp = (ms: number) => String(ms).padStart(15, '0');

export class EmbeddingStore {
  constructor(
    private readonly ddb: DynamoDBDocumentClient,
    private readonly table: string,
  ) {}

  // ---- items (lines and words) ----

  /**
   * Up to `limit` items not yet embedded (Query GSI2, paginated), in id order; words come with their
   * line's text (they are embedded in context).
   */
  async listCandidates(kind: EmbedKind, limit: number): Promise<EmbeddableItem[]> {
    const out: EmbeddableItem[] = [];
    let ExclusiveStartKey: Item | undefined;
    do {
      const r = await this.ddb.send(
        new QueryCommand({
          TableName: this.table,
          IndexName: 'GSI2',
          KeyConditionExpression: 'GSI2PK = :pk',
          ExpressionAttributeValues: { ':pk': gsi2Partition(kind, 'NOT_EMBEDDED') },
          Limit: Math.min(1000, limit - out.length),
          ExclusiveStartKey,
        }),
      );
      for (const i of r.Items ?? []) out.push(embeddableOf(kind, i));
      ExclusiveStartKey = r.LastEvaluatedKey;
    } while (ExclusiveStartKey && out.length < limit);
    await this.attachLineTexts(out);
    return out;
  }

  /** Items by id (BatchGetItem, consistent; words with their line's text); missing ones are left out. */
  async getItems(kind: EmbedKind, ids: readonly string[]): Promise<Map<string, EmbeddableItem>> {
    const items = (await this.batchGet(ids.map((id) => itemKeyOf(kind, id)))).map((i) =>
      embeddableOf(kind, i),
    );
    await this.attachLineTexts(items);
    return new Map(items.map((e) => [e.id, e]));
  }

  /** Words are embedded with their neighbours on the line: read each line once. */
  private async attachLineTexts(items: EmbeddableItem[]): Promise<void> {
    // Word items carry their line's text (written by putReceipts); older items need the line read.
    const words = items.filter((i) => i.kind === 'WORD' && i.lineText === undefined);
    if (words.length === 0) return;
    const lineKeys = new Map<string, Key>();
    for (const w of words) {
      const k = keys.line(w.receiptId, w.lineIndex);
      lineKeys.set(`${k.PK}|${k.SK}`, k);
    }
    const lines = await this.batchGet([...lineKeys.values()]);
    const textOf = new Map(lines.map((l) => [`${String(l.PK)}|${String(l.SK)}`, String(l.text ?? '')]));
    for (const w of words) {
      const k = keys.line(w.receiptId, w.lineIndex);
      const text = textOf.get(`${k.PK}|${k.SK}`);
      if (text !== undefined) w.lineText = text;
    }
  }

  /** BatchGetItem, 100 keys at a time, consistent, unprocessed keys retried. */
  private async batchGet(all: readonly Key[]): Promise<Item[]> {
    const out: Item[] = [];
    for (let i = 0; i < all.length; i += 100) {
      let pending: Key[] = all.slice(i, i + 100);
      for (let attempt = 0; pending.length > 0; attempt++) {
        const r = await this.ddb.send(
          new BatchGetCommand({ RequestItems: { [this.table]: { Keys: pending, ConsistentRead: true } } }),
        );
        out.push(...(r.Responses?.[this.table] ?? []));
        pending = (r.UnprocessedKeys?.[this.table]?.Keys ?? []) as Key[];
        if (pending.length > 0) {
          if (attempt > 8) throw new Error(`DynamoDB left ${pending.length} keys unprocessed after retries`);
          await new Promise((res) => setTimeout(res, 50 * 2 ** attempt));
        }
      }
    }
    return out;
  }

  /**
   * Marks an item PENDING on `batchKey`, only if it is NOT_EMBEDDED or already claimed by this
   * batch (a retried claim). False when another batch holds it or it is embedded/failed.
   */
  async claim(kind: EmbedKind, id: string, batchKey: string): Promise<boolean> {
    return this.updateIf(
      itemKeyOf(kind, id),
      'SET embeddingStatus = :pending, embeddingBatch = :b, GSI2PK = :gsi, GSI2SK = :id',
      '(embeddingStatus = :ne) OR (embeddingStatus = :pending AND embeddingBatch = :b)',
      {
        ':pending': 'PENDING',
        ':ne': 'NOT_EMBEDDED',
        ':b': batchKey,
        ':gsi': gsi2Partition(kind, 'PENDING'),
        ':id': id,
      },
    );
  }

  /** PENDING on `batchKey` -> SUCCESS. False when the item is not (or no longer) this batch's. */
  async markEmbedded(kind: EmbedKind, id: string, batchKey: string, at: number): Promise<boolean> {
    return this.updateIf(
      itemKeyOf(kind, id),
      'SET embeddingStatus = :ok, GSI2PK = :gsi, GSI2SK = :id, embeddedAt = :at REMOVE embeddingFailureReason',
      'embeddingStatus = :pending AND embeddingBatch = :b',
      {
        ':ok': 'SUCCESS',
        ':pending': 'PENDING',
        ':b': batchKey,
        ':gsi': gsi2Partition(kind, 'SUCCESS'),
        ':id': id,
        ':at': at,
      },
    );
  }

  /**
   * SUCCESS on `batchKey` -> PENDING: the item's vector is in a delta that could not be applied to
   * Chroma, so the item must not say SUCCESS until the delta is applied again.
   */
  async unmarkEmbedded(kind: EmbedKind, id: string, batchKey: string): Promise<boolean> {
    return this.updateIf(
      itemKeyOf(kind, id),
      'SET embeddingStatus = :pending, GSI2PK = :gsi, GSI2SK = :id REMOVE embeddedAt',
      'embeddingStatus = :ok AND embeddingBatch = :b',
      {
        ':ok': 'SUCCESS',
        ':pending': 'PENDING',
        ':b': batchKey,
        ':gsi': gsi2Partition(kind, 'PENDING'),
        ':id': id,
      },
    );
  }

  /**
   * PENDING on `batchKey` -> NOT_EMBEDDED with one more attempt, or FAILED once `maxAttempts` are
   * spent. Conditional on the attempt count read before, so a retried release counts once.
   */
  async release(
    kind: EmbedKind,
    id: string,
    batchKey: string,
    previousAttempts: number,
    maxAttempts: number,
    reason: string,
  ): Promise<'NOT_EMBEDDED' | 'FAILED' | undefined> {
    const attempts = previousAttempts + 1;
    const status: EmbeddingStatus = attempts >= maxAttempts ? 'FAILED' : 'NOT_EMBEDDED';
    const ok = await this.updateIf(
      itemKeyOf(kind, id),
      'SET embeddingStatus = :s, GSI2PK = :gsi, GSI2SK = :id, embeddingAttempts = :n, embeddingFailureReason = :r',
      'embeddingStatus = :pending AND embeddingBatch = :b AND ' +
        (previousAttempts === 0
          ? '(attribute_not_exists(embeddingAttempts) OR embeddingAttempts = :prev)'
          : 'embeddingAttempts = :prev'),
      {
        ':s': status,
        ':pending': 'PENDING',
        ':b': batchKey,
        ':gsi': gsi2Partition(kind, status),
        ':id': id,
        ':n': attempts,
        ':prev': previousAttempts,
        ':r': boundText(reason, MAX_PROVIDER_TEXT),
      },
    );
    return ok ? status : undefined;
  }

  /**
   * NOT_EMBEDDED -> SUCCESS without a batch, for an item whose record Chroma already holds with the
   * same document (`embeddingBatch = 'chroma'`).
   */
  async markEmbeddedFromIndex(kind: EmbedKind, id: string, at: number): Promise<boolean> {
    return this.updateIf(
      itemKeyOf(kind, id),
      'SET embeddingStatus = :ok, embeddingBatch = :b, GSI2PK = :gsi, GSI2SK = :id, embeddedAt = :at',
      'embeddingStatus = :ne',
      {
        ':ok': 'SUCCESS',
        ':ne': 'NOT_EMBEDDED',
        ':b': REUSED_FROM_INDEX,
        ':gsi': gsi2Partition(kind, 'SUCCESS'),
        ':id': id,
        ':at': at,
      },
    );
  }

  /** An item that can never be embedded (e.g. empty text): NOT_EMBEDDED -> FAILED with a reason. */
  async markUnembeddable(kind: EmbedKind, id: string, reason: string): Promise<boolean> {
    return this.updateIf(
      itemKeyOf(kind, id),
      'SET embeddingStatus = :f, GSI2PK = :gsi, GSI2SK = :id, embeddingFailureReason = :r',
      'embeddingStatus = :ne',
      {
        ':f': 'FAILED',
        ':ne': 'NOT_EMBEDDED',
        ':gsi': gsi2Partition(kind, 'FAILED'),
        ':id': id,
        ':r': boundText(reason, MAX_PROVIDER_TEXT),
      },
    );
  }

  /** Items of a kind in a status (Query GSI2 with Select COUNT, paginated). */
  async countByStatus(kind: EmbedKind, status: EmbeddingStatus): Promise<number> {
    let n = 0;
    let ExclusiveStartKey: Item | undefined;
    do {
      const r = await this.ddb.send(
        new QueryCommand({
          TableName: this.table,
          IndexName: 'GSI2',
          KeyConditionExpression: 'GSI2PK = :pk',
          ExpressionAttributeValues: { ':pk': gsi2Partition(kind, status) },
          Select: 'COUNT',
          ExclusiveStartKey,
        }),
      );
      n += r.Count ?? 0;
      ExclusiveStartKey = r.LastEvaluatedKey;
    } while (ExclusiveStartKey);
    return n;
  }

  /** Every item of a kind in a status, with its embedding attributes (tests, status details). */
  async listByStatus(kind: EmbedKind, status: EmbeddingStatus): Promise<EmbeddableItem[]> {
    const items = await this.queryAll({
      IndexName: 'GSI2',
      KeyConditionExpression: 'GSI2PK = :pk',
      ExpressionAttributeValues: { ':pk': gsi2Partition(kind, status) },
    });
    return items.map((i) => embeddableOf(kind, i));
  }

  // ---- batch records ----

  async getBatch(runId: string, kind: EmbedKind, seq: number): Promise<BatchRecord | undefined> {
    const r = await this.getConsistent(batchRecordKey(runId, kind, seq));
    return r as BatchRecord | undefined;
  }

  /** Creates a batch record; false when it exists already (another attempt made it first). */
  async createBatch(record: BatchRecord): Promise<boolean> {
    const open = record.state !== 'EMPTY';
    try {
      await this.ddb.send(
        new PutCommand({
          TableName: this.table,
          Item: {
            ...batchRecordKey(record.runId, record.kind, record.seq),
            type: 'EMBED_BATCH',
            ...(open
              ? { GSI1PK: OPEN_BATCHES, GSI1SK: `${stamp(record.createdAt)}#${record.batchKey}` }
              : {}),
            ...record,
          },
          ConditionExpression: 'attribute_not_exists(PK)',
        }),
      );
      return true;
    } catch (err) {
      if ((err as Error).name === 'ConditionalCheckFailedException') return false;
      throw err;
    }
  }

  /**
   * Moves a batch record from one state to the next, setting `fields`; false when it was not in
   * `from` (another attempt moved it first). A closing state drops it from the open-batch index.
   */
  async transitionBatch(
    record: Pick<BatchRecord, 'runId' | 'kind' | 'seq'>,
    from: BatchState | BatchState[],
    to: BatchState,
    fields: Partial<BatchRecord> = {},
  ): Promise<boolean> {
    const froms = Array.isArray(from) ? from : [from];
    const values: Record<string, unknown> = { ':to': to };
    const names: Record<string, string> = { '#state': 'state' };
    const sets = ['#state = :to'];
    Object.entries(fields).forEach(([k, v], i) => {
      names[`#f${i}`] = k;
      values[`:f${i}`] = v;
      sets.push(`#f${i} = :f${i}`);
    });
    froms.forEach((s, i) => (values[`:from${i}`] = s));
    const closing = to === 'PROCESSED' || to === 'RELEASED' || to === 'EMPTY';
    return this.updateIf(
      batchRecordKey(record.runId, record.kind, record.seq),
      `SET ${sets.join(', ')}${closing ? ' REMOVE GSI1PK, GSI1SK' : ''}`,
      `(${froms.map((_, i) => `#state = :from${i}`).join(' OR ')})`,
      values,
      names,
    );
  }

  /** Records the API status last seen (no state change). */
  async noteBatchStatus(record: Pick<BatchRecord, 'runId' | 'kind' | 'seq'>, status: string): Promise<void> {
    await this.ddb.send(
      new UpdateCommand({
        TableName: this.table,
        Key: batchRecordKey(record.runId, record.kind, record.seq),
        UpdateExpression: 'SET #status = :s',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: { ':s': status },
      }),
    );
  }

  async listRunBatches(runId: string): Promise<BatchRecord[]> {
    return (await this.queryAll({
      KeyConditionExpression: 'PK = :pk AND begins_with(SK, :sk)',
      ExpressionAttributeValues: { ':pk': runPartition(runId), ':sk': 'EMBEDBATCH#' },
      ConsistentRead: true,
    })) as unknown as BatchRecord[];
  }

  /** Batches submitted (or being submitted) whose results are not processed yet, all runs. */
  async countOpenBatches(): Promise<number> {
    return (
      await this.queryAll({
        IndexName: 'GSI1',
        KeyConditionExpression: 'GSI1PK = :pk',
        ExpressionAttributeValues: { ':pk': OPEN_BATCHES },
        ProjectionExpression: 'PK',
      })
    ).length;
  }

  // ---- delta records ----

  /** Records a delta written to S3, once: a retry never resets an APPLIED delta to PENDING. */
  async putDelta(delta: DeltaItem): Promise<boolean> {
    try {
      await this.ddb.send(
        new PutCommand({
          TableName: this.table,
          Item: {
            ...deltaKey(delta.batchKey),
            type: 'EMBED_DELTA',
            GSI1PK: deltaPartition(delta.state),
            GSI1SK: `${stamp(delta.createdAt)}#${delta.batchKey}`,
            ...delta,
          },
          ConditionExpression: 'attribute_not_exists(PK)',
        }),
      );
      return true;
    } catch (err) {
      if ((err as Error).name === 'ConditionalCheckFailedException') return false;
      throw err;
    }
  }

  async getDelta(batchKey: string): Promise<DeltaItem | undefined> {
    return (await this.getConsistent(deltaKey(batchKey))) as DeltaItem | undefined;
  }

  /** Oldest pending deltas first, at most `limit` (all runs, or one run). */
  async listPendingDeltas(limit: number, runId?: string): Promise<DeltaItem[]> {
    const out: DeltaItem[] = [];
    let ExclusiveStartKey: Item | undefined;
    do {
      const r = await this.ddb.send(
        new QueryCommand({
          TableName: this.table,
          IndexName: 'GSI1',
          KeyConditionExpression: 'GSI1PK = :pk',
          ExpressionAttributeValues: {
            ':pk': deltaPartition('PENDING'),
            ...(runId ? { ':run': runId } : {}),
          },
          ...(runId ? { FilterExpression: 'runId = :run' } : {}),
          ExclusiveStartKey,
        }),
      );
      out.push(...((r.Items ?? []) as unknown as DeltaItem[]));
      ExclusiveStartKey = r.LastEvaluatedKey;
    } while (ExclusiveStartKey && out.length < limit);
    return out.slice(0, limit);
  }

  /** PENDING -> APPLIED; false when it was applied already (a retried compaction step). */
  async markDeltaApplied(delta: DeltaItem, at: number, by: string): Promise<boolean> {
    return this.updateIf(
      deltaKey(delta.batchKey),
      'SET #state = :applied, GSI1PK = :gsi, appliedAt = :at, appliedBy = :by',
      '#state = :pending',
      {
        ':applied': 'APPLIED',
        ':pending': 'PENDING',
        ':gsi': deltaPartition('APPLIED'),
        ':at': at,
        ':by': by,
      },
      { '#state': 'state' },
    );
  }

  /** PENDING -> FAILED with a reason: a delta that cannot be applied no longer blocks the others. */
  async markDeltaFailed(batchKey: string, reason: string, at: number): Promise<boolean> {
    return this.updateIf(
      deltaKey(batchKey),
      'SET #state = :failed, GSI1PK = :gsi, reason = :r, failedAt = :at',
      '#state = :pending',
      {
        ':failed': 'FAILED',
        ':pending': 'PENDING',
        ':gsi': deltaPartition('FAILED'),
        ':r': boundText(reason, MAX_PROVIDER_TEXT),
        ':at': at,
      },
      { '#state': 'state' },
    );
  }

  /**
   * FAILED -> PENDING (a redrive), at most `maxRedrives` times per delta, so a delta that can never
   * be applied stops coming back. False when it is not FAILED or its redrives are spent.
   */
  async redriveDelta(delta: DeltaItem, maxRedrives: number): Promise<boolean> {
    const redrives = delta.redrives ?? 0;
    if (redrives >= maxRedrives) return false;
    return this.updateIf(
      deltaKey(delta.batchKey),
      'SET #state = :pending, GSI1PK = :gsi, redrives = :n REMOVE failedAt',
      '#state = :failed AND ' +
        (redrives === 0 ? '(attribute_not_exists(redrives) OR redrives = :prev)' : 'redrives = :prev'),
      {
        ':failed': 'FAILED',
        ':pending': 'PENDING',
        ':gsi': deltaPartition('PENDING'),
        ':n': redrives + 1,
        ':prev': redrives,
      },
      { '#state': 'state' },
    );
  }

  async countDeltas(state: DeltaItem['state']): Promise<number> {
    return (
      await this.queryAll({
        IndexName: 'GSI1',
        KeyConditionExpression: 'GSI1PK = :pk',
        ExpressionAttributeValues: { ':pk': deltaPartition(state) },
        ProjectionExpression: 'PK',
      })
    ).length;
  }

  async listDeltas(state: DeltaItem['state']): Promise<DeltaItem[]> {
    return (await this.queryAll({
      IndexName: 'GSI1',
      KeyConditionExpression: 'GSI1PK = :pk',
      ExpressionAttributeValues: { ':pk': deltaPartition(state) },
    })) as unknown as DeltaItem[];
  }

  // ---- plumbing ----

  private async getConsistent(key: Key): Promise<Item | undefined> {
    const r = await this.ddb.send(
      new QueryCommand({
        TableName: this.table,
        KeyConditionExpression: 'PK = :pk AND SK = :sk',
        ExpressionAttributeValues: { ':pk': key.PK, ':sk': key.SK },
        ConsistentRead: true,
      }),
    );
    return r.Items?.[0];
  }

  private async updateIf(
    key: Key,
    update: string,
    condition: string,
    values: Record<string, unknown>,
    names?: Record<string, string>,
  ): Promise<boolean> {
    try {
      await this.ddb.send(
        new UpdateCommand({
          TableName: this.table,
          Key: key,
          UpdateExpression: update,
          ConditionExpression: condition,
          ExpressionAttributeValues: values,
          ...(names ? { ExpressionAttributeNames: names } : {}),
        }),
      );
      return true;
    } catch (err) {
      if ((err as Error).name === 'ConditionalCheckFailedException') return false;
      throw err;
    }
  }

  private async queryAll(input: Omit<ConstructorParameters<typeof QueryCommand>[0], 'TableName'>) {
    const out: Item[] = [];
    let ExclusiveStartKey: Item | undefined;
    do {
      const r = await this.ddb.send(new QueryCommand({ ...input, TableName: this.table, ExclusiveStartKey }));
      out.push(...(r.Items ?? []));
      ExclusiveStartKey = r.LastEvaluatedKey;
    } while (ExclusiveStartKey);
    return out;
  }
}

function embeddableOf(kind: EmbedKind, i: Item): EmbeddableItem {
  return {
    kind,
    id: String(kind === 'WORD' ? i.wordId : i.lineId),
    text: String(i.text ?? ''),
    attempts: Number(i.embeddingAttempts ?? 0),
    receiptId: String(i.PK).replace(/^RECEIPT#/, ''),
    merchantId: String(i.merchantId ?? ''),
    status: (i.embeddingStatus as EmbeddingStatus) ?? 'NOT_EMBEDDED',
    ...(i.embeddingBatch ? { batch: String(i.embeddingBatch) } : {}),
    ...(i.label !== undefined && i.label !== null ? { label: String(i.label) } : {}),
    ...(i.validationStatus ? { validationStatus: String(i.validationStatus) } : {}),
    lineIndex: Number(i.lineIndex),
    ...(i.wordIndex !== undefined ? { wordIndex: Number(i.wordIndex) } : {}),
    ...(i.embeddingFailureReason ? { failureReason: String(i.embeddingFailureReason) } : {}),
    ...(kind === 'WORD' && typeof i.lineText === 'string' ? { lineText: i.lineText } : {}),
  };
}
