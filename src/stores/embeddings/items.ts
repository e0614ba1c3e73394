// Embedding status of lines and words (GSI2 `EMBED#<kind>#<status>`): the candidates a batch is cut
// from, and the conditional moves NOT_EMBEDDED -> PENDING -> SUCCESS / NOT_EMBEDDED / FAILED.
import type { EmbedKind } from '../../domain/embedding';
import type { EmbeddingStatus } from '../../domain/receipt';
import { boundText, MAX_PROVIDER_TEXT } from '../../domain/bounded-text';
import { keys } from '../receipts';
import { EmbeddingTable, REUSED_FROM_INDEX, gsi2Partition, itemKeyOf, type Item, type Key } from './table';
import type { EmbeddableItem } from './types';

/** A status move's condition: the item is in `:from`. */
const IN_FROM = 'embeddingStatus = :from';
/** A status move's condition: the item is in `:from` on batch `:b`. */
const ON_BATCH = 'embeddingStatus = :from AND embeddingBatch = :b';

/** Line and word items: what `EmbeddingStore` does with them. */
export abstract class EmbeddingItemStore extends EmbeddingTable {
  /**
   * Up to `limit` items not yet embedded (Query GSI2, paginated, 1,000 a page), in id order; words
   * come with their line's text (they are embedded in context).
   */
  async listCandidates(kind: EmbedKind, limit: number): Promise<EmbeddableItem[]> {
    const items = await this.queryUpTo(
      {
        IndexName: 'GSI2',
        KeyConditionExpression: 'GSI2PK = :pk',
        ExpressionAttributeValues: { ':pk': gsi2Partition(kind, 'NOT_EMBEDDED') },
      },
      limit,
      { max: 1000 },
    );
    const out = items.map((i) => embeddableOf(kind, i));
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
    return this.moveStatus(kind, id, 'NOT_EMBEDDED', 'PENDING', {
      condition: '(embeddingStatus = :from) OR (embeddingStatus = :to AND embeddingBatch = :b)',
      batch: batchKey,
      set: 'embeddingBatch = :b',
    });
  }

  /** PENDING on `batchKey` -> SUCCESS. False when the item is not (or no longer) this batch's. */
  async markEmbedded(kind: EmbedKind, id: string, batchKey: string, at: number): Promise<boolean> {
    return this.moveStatus(kind, id, 'PENDING', 'SUCCESS', {
      condition: ON_BATCH,
      batch: batchKey,
      set: 'embeddedAt = :at',
      remove: 'embeddingFailureReason',
      values: { ':at': at },
    });
  }

  /**
   * SUCCESS on `batchKey` -> PENDING: the item's vector is in a delta that could not be applied to
   * Chroma, so the item must not say SUCCESS until the delta is applied again.
   */
  async unmarkEmbedded(kind: EmbedKind, id: string, batchKey: string): Promise<boolean> {
    return this.moveStatus(kind, id, 'SUCCESS', 'PENDING', {
      condition: ON_BATCH,
      batch: batchKey,
      remove: 'embeddedAt',
    });
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
    const status = attempts >= maxAttempts ? 'FAILED' : 'NOT_EMBEDDED';
    const ok = await this.moveStatus(kind, id, 'PENDING', status, {
      condition:
        `${ON_BATCH} AND ` +
        (previousAttempts === 0
          ? '(attribute_not_exists(embeddingAttempts) OR embeddingAttempts = :prev)'
          : 'embeddingAttempts = :prev'),
      batch: batchKey,
      set: 'embeddingAttempts = :n, embeddingFailureReason = :r',
      values: { ':n': attempts, ':prev': previousAttempts, ':r': boundText(reason, MAX_PROVIDER_TEXT) },
    });
    return ok ? status : undefined;
  }

  /**
   * NOT_EMBEDDED -> SUCCESS without a batch, for an item whose record Chroma already holds with the
   * same document (`embeddingBatch = 'chroma'`).
   */
  async markEmbeddedFromIndex(kind: EmbedKind, id: string, at: number): Promise<boolean> {
    return this.moveStatus(kind, id, 'NOT_EMBEDDED', 'SUCCESS', {
      condition: IN_FROM,
      batch: REUSED_FROM_INDEX,
      set: 'embeddingBatch = :b, embeddedAt = :at',
      values: { ':at': at },
    });
  }

  /** An item that can never be embedded (e.g. empty text): NOT_EMBEDDED -> FAILED with a reason. */
  async markUnembeddable(kind: EmbedKind, id: string, reason: string): Promise<boolean> {
    return this.moveStatus(kind, id, 'NOT_EMBEDDED', 'FAILED', {
      condition: IN_FROM,
      set: 'embeddingFailureReason = :r',
      values: { ':r': boundText(reason, MAX_PROVIDER_TEXT) },
    });
  }

  /**
   * FAILED on `batchKey` -> NOT_EMBEDDED with its attempts reset: a redrive gives the item a new
   * start. False when the item is no longer that batch's failure.
   */
  async reopenFailed(kind: EmbedKind, id: string, batchKey: string): Promise<boolean> {
    return this.moveStatus(kind, id, 'FAILED', 'NOT_EMBEDDED', {
      condition: ON_BATCH,
      batch: batchKey,
      set: 'embeddingAttempts = :zero',
      values: { ':zero': 0 },
    });
  }

  /**
   * One conditional status move `from` -> `to`; the item's GSI2 key moves with its status. The
   * condition and `set` may name `:from`, `:to` and, when `batch` is given, `:b`.
   */
  private moveStatus(
    kind: EmbedKind,
    id: string,
    from: EmbeddingStatus,
    to: EmbeddingStatus,
    move: {
      condition: string;
      batch?: string;
      set?: string;
      remove?: string;
      values?: Record<string, unknown>;
    },
  ): Promise<boolean> {
    return this.updateIf(
      itemKeyOf(kind, id),
      `SET embeddingStatus = :to, GSI2PK = :gsi, GSI2SK = :id${move.set ? `, ${move.set}` : ''}` +
        (move.remove ? ` REMOVE ${move.remove}` : ''),
      move.condition,
      {
        ':from': from,
        ':to': to,
        ':gsi': gsi2Partition(kind, to),
        ':id': id,
        ...(move.batch !== undefined ? { ':b': move.batch } : {}),
        ...move.values,
      },
    );
  }

  /** Items of a kind in a status (Query GSI2 with Select COUNT, paginated). */
  countByStatus(kind: EmbedKind, status: EmbeddingStatus): Promise<number> {
    return this.queryCount({
      IndexName: 'GSI2',
      KeyConditionExpression: 'GSI2PK = :pk',
      ExpressionAttributeValues: { ':pk': gsi2Partition(kind, status) },
    });
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
