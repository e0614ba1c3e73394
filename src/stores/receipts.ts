// DynamoDB single-table access for merchants, receipts, lines, words and their labels
// (key design and access patterns: docs/DATA_MODEL.md).
import type { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { mapLimit } from '../domain/chunk';
import { DynamoTable } from './dynamo-table';
import type { Label } from '../domain/llm-tasks';
import type { Merchant, PastLabel, Receipt, ValidationStatus } from '../domain/receipt';
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

export interface LabelUpdate {
  wordId: string;
  validationStatus: ValidationStatus;
  reason: string;
  source: string;
  suggestedLabel?: Label | null;
  /**
   * Set when the word had no label and the review confirmed the one proposed for it: the label is
   * created (VALID, proposed by `source`) and the word joins its merchant's group of that label.
   */
  createLabel?: { label: Label; merchantId: string };
  /**
   * Set when the review found the label INVALID and suggested another: the word's label becomes
   * `to` (VALID, proposed by `source`, in its merchant's group of that label) if it is still `from`;
   * `from` is kept as a past label marked INVALID with the reason.
   */
  replaceLabel?: { from: Label; to: Label; merchantId: string };
}

/** The receipts' side of the single table, and the table gateway the other stores are built on. */
export class ReceiptStore extends DynamoTable {
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
   * Applies review decisions to word labels. Idempotent per run: a word already updated by this
   * run is left alone, so a retried activity never rewrites or regresses a label.
   */
  async applyLabelUpdates(runId: string, updates: LabelUpdate[]): Promise<number> {
    // Independent conditional writes, 8 at a time (one after another they cost ~5 ms each).
    const applied = await mapLimit(updates, 8, (u) =>
      u.createLabel
        ? this.createWordLabel(runId, u, u.createLabel)
        : u.replaceLabel
          ? this.replaceWordLabel(runId, u, u.replaceLabel)
          : this.updateWordIf(u.wordId, {
              UpdateExpression:
                'SET validationStatus = :s, labelReason = :r, labelSource = :src, suggestedLabel = :sl, reviewedByRun = :run',
              ConditionExpression:
                'attribute_exists(PK) AND (attribute_not_exists(reviewedByRun) OR reviewedByRun <> :run)',
              ExpressionAttributeValues: {
                ':s': u.validationStatus,
                ':r': boundText(u.reason, MAX_PROVIDER_TEXT),
                ':src': u.source,
                ':sl': u.suggestedLabel ?? null,
                ':run': runId,
              },
            }),
    );
    return applied.filter(Boolean).length;
  }

  /** Gives an unlabelled word the label a review confirmed (only if it is still unlabelled). */
  private createWordLabel(runId: string, u: LabelUpdate, create: NonNullable<LabelUpdate['createLabel']>) {
    return this.updateWordIf(u.wordId, {
      UpdateExpression:
        'SET #label = :l, validationStatus = :s, labelReason = :r, labelSource = :src, reviewedByRun = :run, GSI1PK = :gpk, GSI1SK = :gsk',
      ConditionExpression: 'attribute_exists(PK) AND attribute_not_exists(#label)',
      ExpressionAttributeNames: { '#label': 'label' },
      ExpressionAttributeValues: {
        ':l': create.label,
        ':s': u.validationStatus,
        ':r': u.reason,
        ':src': u.source,
        ':run': runId,
        ':gpk': labelledWordsPartition(create.merchantId, create.label),
        ':gsk': u.wordId,
      },
    });
  }

  /** The seed's INVALID write-back: the suggested label replaces the reviewed one (if still there). */
  private replaceWordLabel(runId: string, u: LabelUpdate, r: NonNullable<LabelUpdate['replaceLabel']>) {
    const reason = boundText(u.reason, MAX_PROVIDER_TEXT);
    const past: PastLabel = { label: r.from, validationStatus: 'INVALID', source: u.source, reason };
    return this.updateWordIf(u.wordId, {
      UpdateExpression:
        'SET #label = :to, validationStatus = :valid, labelReason = :r, labelSource = :src, suggestedLabel = :none, ' +
        'reviewedByRun = :run, GSI1PK = :gpk, GSI1SK = :gsk, pastLabels = list_append(if_not_exists(pastLabels, :empty), :past)',
      ConditionExpression:
        'attribute_exists(PK) AND #label = :from AND (attribute_not_exists(reviewedByRun) OR reviewedByRun <> :run)',
      ExpressionAttributeNames: { '#label': 'label' },
      ExpressionAttributeValues: {
        ':to': r.to,
        ':from': r.from,
        ':valid': 'VALID',
        ':r': reason,
        ':src': u.source,
        ':none': null,
        ':run': runId,
        ':gpk': labelledWordsPartition(r.merchantId, r.to),
        ':gsk': u.wordId,
        ':empty': [],
        ':past': [past],
      },
    });
  }

  /** A conditional update of one word item: false (and nothing written) when the condition fails. */
  private updateWordIf(
    wordId: string,
    update: Required<
      Pick<
        ConstructorParameters<typeof UpdateCommand>[0],
        'UpdateExpression' | 'ConditionExpression' | 'ExpressionAttributeValues'
      >
    > &
      Pick<ConstructorParameters<typeof UpdateCommand>[0], 'ExpressionAttributeNames'>,
  ): Promise<boolean> {
    const { receiptId, lineIndex, wordIndex } = parseWordId(wordId);
    return this.updateIf(
      keys.word(receiptId, lineIndex, wordIndex),
      update.UpdateExpression,
      update.ConditionExpression,
      update.ExpressionAttributeValues,
      update.ExpressionAttributeNames,
    );
  }
}
