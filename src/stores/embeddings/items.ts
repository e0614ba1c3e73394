// Embedding status of lines and words (GSI2 `EMBED#<kind>#<status>`): the candidates a batch is cut
// from, and the conditional moves NOT_EMBEDDED -> PENDING -> SUCCESS / NOT_EMBEDDED / FAILED.
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { EmbedKind } from '../../domain/embedding';
import type { EmbeddingStatus } from '../../domain/receipt';
import { boundText, MAX_PROVIDER_TEXT } from '../../domain/bounded-text';
import { keys } from '../receipts';
import { EmbeddingTable, REUSED_FROM_INDEX, gsi2Partition, itemKeyOf, type Item, type Key } from './table';
import type { EmbeddableItem } from './types';

/** Line and word items: what `EmbeddingStore` does with them. */
export abstract class EmbeddingItemStore extends EmbeddingTable {
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

  /**
   * FAILED on `batchKey` -> NOT_EMBEDDED with its attempts reset: a redrive gives the item a new
   * start. False when the item is no longer that batch's failure.
   */
  async reopenFailed(kind: EmbedKind, id: string, batchKey: string): Promise<boolean> {
    return this.updateIf(
      itemKeyOf(kind, id),
      'SET embeddingStatus = :ne, GSI2PK = :gsi, GSI2SK = :id, embeddingAttempts = :zero',
      'embeddingStatus = :f AND embeddingBatch = :b',
      {
        ':ne': 'NOT_EMBEDDED',
        ':f': 'FAILED',
        ':b': batchKey,
        ':gsi': gsi2Partition(kind, 'NOT_EMBEDDED'),
        ':id': id,
        ':zero': 0,
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
