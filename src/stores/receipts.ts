// DynamoDB single-table access for merchants, receipts, lines, words and their labels
// (key design and access patterns: docs/DATA_MODEL.md).
import { mapLimit } from '../domain/chunk';
import { DynamoTable } from './dynamo-table';
import type { Label } from '../domain/llm-tasks';
import type { Merchant, Receipt } from '../domain/receipt';
import { LabelWriteBack, type LabelUpdate } from './label-write-back';
import {
  keys,
  labelledWordsPartition,
  merchantPartition,
  parseWordId,
  receiptFromItems,
  receiptItems,
} from './receipt-items';
import { boundStrings, boundText, MAX_IMPORT_FIELD_TEXT, MAX_PROVIDER_TEXT } from '../domain/bounded-text';

export { keys, labelledWordsPartition, merchantPartition, parseWordId } from './receipt-items';
export type { LabelUpdate } from './label-write-back';

/** The receipts' side of the single table, and the table gateway the other stores are built on. */
export class ReceiptStore extends DynamoTable {
  private readonly labelWriteBack = new LabelWriteBack(this.ddb, this.table);

  async putMerchants(merchants: Merchant[]): Promise<void> {
    await this.batchPut(
      merchants.map((m) => ({
        ...keys.merchant(m.merchantId),
        type: 'MERCHANT',
        GSI1PK: 'MERCHANTS',
        GSI1SK: m.merchantId,
        ...boundStrings(m, MAX_IMPORT_FIELD_TEXT),
      })),
    );
  }

  /** Writes receipts with their lines and words (overwrites: seeding is a reset of that data). */
  async putReceipts(receipts: Receipt[]): Promise<void> {
    await this.batchPut(receipts.flatMap(receiptItems));
  }

  async listMerchants(): Promise<Merchant[]> {
    const items = await this.queryAll({
      IndexName: 'GSI1',
      KeyConditionExpression: 'GSI1PK = :pk',
      ExpressionAttributeValues: { ':pk': 'MERCHANTS' },
    });
    return items.map((i) => ({
      merchantId: String(i.merchantId),
      name: String(i.name),
      address: String(i.address),
      phone: String(i.phone),
    }));
  }

  /** Receipt ids of a merchant, in id order (GSI1, paginated). */
  async listReceiptIds(merchantId: string): Promise<string[]> {
    const items = await this.queryAll({
      IndexName: 'GSI1',
      KeyConditionExpression: 'GSI1PK = :pk AND begins_with(GSI1SK, :r)',
      ExpressionAttributeValues: { ':pk': merchantPartition(merchantId), ':r': 'RECEIPT#' },
      ProjectionExpression: 'receiptId',
    });
    return items.map((i) => String(i.receiptId));
  }

  /** Up to `limit` receipt ids of a merchant after `after` (exclusive), in id order (GSI1, a page). */
  async listReceiptIdsAfter(merchantId: string, after: string | undefined, limit: number): Promise<string[]> {
    const items = await this.queryUpTo(
      {
        IndexName: 'GSI1',
        // The merchant's GSI1 partition holds only its receipts (RECEIPT#<id>).
        KeyConditionExpression:
          after === undefined ? 'GSI1PK = :pk AND begins_with(GSI1SK, :r)' : 'GSI1PK = :pk AND GSI1SK > :r',
        ExpressionAttributeValues: {
          ':pk': merchantPartition(merchantId),
          ':r': after === undefined ? 'RECEIPT#' : `RECEIPT#${after}`,
        },
        ProjectionExpression: 'receiptId',
      },
      limit,
    );
    return items.map((i) => String(i.receiptId));
  }

  /** How many receipts a merchant has (GSI1, counted, not read). */
  countReceipts(merchantId: string): Promise<number> {
    return this.queryCount({
      IndexName: 'GSI1',
      KeyConditionExpression: 'GSI1PK = :pk AND begins_with(GSI1SK, :r)',
      ExpressionAttributeValues: { ':pk': merchantPartition(merchantId), ':r': 'RECEIPT#' },
    });
  }

  /** Every word of a merchant with a label, in word id order (GSI1, paginated; never a scan). */
  async listLabelledWords(merchantId: string, label: string): Promise<Record<string, unknown>[]> {
    return this.queryAll({
      IndexName: 'GSI1',
      KeyConditionExpression: 'GSI1PK = :pk',
      ExpressionAttributeValues: { ':pk': labelledWordsPartition(merchantId, label) },
    });
  }

  /**
   * Writes the harmonizer's verdict on word items (outlier flag, reason, suggested label, run).
   * Callers pass only verdicts that changed, so a rerun with the same outcome writes nothing.
   */
  async setOutlierVerdicts(
    runId: string,
    verdicts: Array<{ wordId: string; outlier: boolean; reason: string; suggestedLabel: Label | null }>,
    concurrency = 8,
  ): Promise<void> {
    // A word deleted since it was read (re-seeded) has no verdict to carry: skipped.
    await mapLimit(verdicts, concurrency, (v) =>
      this.updateWordIf(v.wordId, {
        UpdateExpression:
          'SET harmonizerOutlier = :o, harmonizerReason = :r, harmonizerSuggestedLabel = :sl, harmonizedByRun = :run',
        ConditionExpression: 'attribute_exists(PK)',
        ExpressionAttributeValues: {
          ':o': v.outlier,
          ':r': boundText(v.reason, MAX_PROVIDER_TEXT),
          ':sl': v.suggestedLabel,
          ':run': runId,
        },
      }),
    );
  }

  /** One Query reads the whole receipt: its META item, lines and words share the partition. */
  async getReceipt(receiptId: string): Promise<Receipt | undefined> {
    const items = await this.queryAll({
      KeyConditionExpression: 'PK = :pk',
      ExpressionAttributeValues: { ':pk': `RECEIPT#${receiptId}` },
    });
    return receiptFromItems(receiptId, items);
  }

  /**
   * Applies review decisions to word labels (a receipt's updates in one transaction). Idempotent per
   * run: a word already updated by this run is left alone, so a retried activity never rewrites or
   * regresses a label. Returns how many were applied.
   */
  applyLabelUpdates(runId: string, updates: LabelUpdate[]): Promise<number> {
    return this.labelWriteBack.apply(runId, updates);
  }

  /** A conditional update of one word item: false (and nothing written) when the condition fails. */
  private updateWordIf(
    wordId: string,
    update: {
      UpdateExpression: string;
      ConditionExpression: string;
      ExpressionAttributeValues: Record<string, unknown>;
    },
  ): Promise<boolean> {
    const { receiptId, lineIndex, wordIndex } = parseWordId(wordId);
    return this.updateIf(
      keys.word(receiptId, lineIndex, wordIndex),
      update.UpdateExpression,
      update.ConditionExpression,
      update.ExpressionAttributeValues,
    );
  }
}
