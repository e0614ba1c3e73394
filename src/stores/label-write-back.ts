// The review's label updates written to the word items: each one a conditional update (the seed's
// semantics, docs/DATA_MODEL.md), a receipt's updates sent together as DynamoDB transactions.
import { TransactWriteCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { chunk, mapLimit } from '../domain/chunk';
import { boundText, MAX_PROVIDER_TEXT } from '../domain/bounded-text';
import type { Label } from '../domain/llm-tasks';
import type { PastLabel, ValidationStatus } from '../domain/receipt';
import { updateIf, type ItemKey } from './conditional-writes';
import { keys, labelledWordsPartition, parseWordId } from './receipt-items';

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

/** One word's conditional update: applied only if its condition holds, else skipped. */
export interface WordWrite {
  Key: ItemKey;
  UpdateExpression: string;
  ConditionExpression: string;
  ExpressionAttributeValues: Record<string, unknown>;
  ExpressionAttributeNames?: Record<string, string>;
}

/** DynamoDB's bound on the items of one TransactWriteItems. */
export const MAX_TRANSACTION_ITEMS = 100;
/** Transactions tried per chunk (a round drops the items whose condition failed) before the rest go one by one. */
const MAX_TRANSACTION_ROUNDS = 6;
/** Backoff before retrying a transaction cancelled by a conflict or throttling: 25 ms, 50 ms, ... */
const CONFLICT_BACKOFF_MS = 25;
/** Concurrent single-item updates where transactions are not available. */
const ONE_BY_ONE_CONCURRENCY = 8;
/** Cancellation reasons that leave nothing applied and may pass on a retry. */
const RETRYABLE = new Set([
  'None',
  'ConditionalCheckFailed',
  'TransactionConflict',
  'ThrottlingError',
  'ProvisionedThroughputExceeded',
]);

/**
 * Writes label updates for one table. A receipt's ~26 updates go as one TransactWriteItems instead
 * of 26 UpdateItem requests (the per-request overhead was a third of the CPU per LLM call). A
 * transaction is all or nothing, so one failed condition cancels it: the items whose condition
 * failed are dropped and the rest sent again, which keeps each update's own meaning (a failed
 * condition skips only that word). An endpoint without transactions (an older emulator) is found
 * once and then written one update at a time, as before.
 */
export class LabelWriteBack {
  /** Unknown until the first transaction answers. */
  private transactions: boolean | undefined;

  constructor(
    private readonly ddb: DynamoDBDocumentClient,
    private readonly table: string,
  ) {}

  /** Applies the updates; returns how many were applied (the others' conditions did not hold). */
  async apply(runId: string, updates: LabelUpdate[]): Promise<number> {
    let applied = 0;
    for (const writes of transactionChunks(updates.map((u) => wordWriteOf(runId, u)))) {
      applied += await this.writeChunk(writes);
    }
    return applied;
  }

  private async writeChunk(writes: WordWrite[]): Promise<number> {
    if (this.transactions !== false) {
      try {
        return await this.transact(writes);
      } catch (err) {
        if ((err as Error).name !== 'UnknownOperationException') throw err;
        this.transactions = false;
      }
    }
    return this.oneByOne(writes);
  }

  /** The chunk as transactions, dropping failed conditions between rounds; the rest one by one. */
  private async transact(writes: WordWrite[]): Promise<number> {
    let pending = writes;
    for (let round = 0; round < MAX_TRANSACTION_ROUNDS && pending.length > 0; round++) {
      try {
        await this.ddb.send(
          new TransactWriteCommand({
            TransactItems: pending.map((w) => ({ Update: { TableName: this.table, ...w } })),
          }),
        );
        this.transactions = true;
        return pending.length;
      } catch (err) {
        const reasons = cancellationCodes(err, pending.length);
        this.transactions = true;
        if (!reasons || reasons.some((code) => !RETRYABLE.has(code))) break;
        pending = pending.filter((_, i) => reasons[i] !== 'ConditionalCheckFailed');
        if (reasons.some((code) => code !== 'None' && code !== 'ConditionalCheckFailed'))
          await new Promise((res) => setTimeout(res, CONFLICT_BACKOFF_MS * 2 ** round));
      }
    }
    // Rounds spent, or a reason a retry cannot cure: one by one, each update's own error surfaces.
    return this.oneByOne(pending);
  }

  private async oneByOne(writes: WordWrite[]): Promise<number> {
    const applied = await mapLimit(writes, ONE_BY_ONE_CONCURRENCY, (w) =>
      updateIf(this.ddb, this.table, w.Key, {
        expression: w.UpdateExpression,
        condition: w.ConditionExpression,
        values: w.ExpressionAttributeValues,
        ...(w.ExpressionAttributeNames ? { names: w.ExpressionAttributeNames } : {}),
      }),
    );
    return applied.filter(Boolean).length;
  }
}

/**
 * A cancelled transaction's reason per item (DynamoDB lists them in request order); undefined when
 * its reasons do not match the request. Any other error is thrown on.
 */
function cancellationCodes(err: unknown, items: number): string[] | undefined {
  if ((err as Error).name !== 'TransactionCanceledException') throw err;
  const reasons = (err as { CancellationReasons?: Array<{ Code?: string }> }).CancellationReasons;
  if (reasons?.length !== items) return undefined;
  return reasons.map((r) => r.Code ?? 'None');
}

/**
 * Chunks of at most MAX_TRANSACTION_ITEMS, never naming a word twice (a transaction may not): a
 * word's second update goes in a later chunk, after its first, as one-by-one writes ordered them.
 */
export function transactionChunks(writes: WordWrite[]): WordWrite[][] {
  const layers: WordWrite[][] = [];
  const seen = new Map<string, number>();
  for (const w of writes) {
    const id = `${w.Key.PK}\u0000${w.Key.SK}`;
    const n = seen.get(id) ?? 0;
    seen.set(id, n + 1);
    (layers[n] ??= []).push(w);
  }
  return layers.flatMap((layer) => chunk(layer, MAX_TRANSACTION_ITEMS));
}

/** The update's conditional write: status, created label or replaced label. */
export function wordWriteOf(runId: string, u: LabelUpdate): WordWrite {
  const { receiptId, lineIndex, wordIndex } = parseWordId(u.wordId);
  const Key = keys.word(receiptId, lineIndex, wordIndex);
  if (u.createLabel) return { Key, ...createLabelWrite(runId, u, u.createLabel) };
  if (u.replaceLabel) return { Key, ...replaceLabelWrite(runId, u, u.replaceLabel) };
  return {
    Key,
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
  };
}

/** Gives an unlabelled word the label a review confirmed (only if it is still unlabelled). */
function createLabelWrite(
  runId: string,
  u: LabelUpdate,
  create: NonNullable<LabelUpdate['createLabel']>,
): Omit<WordWrite, 'Key'> {
  return {
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
  };
}

/** The seed's INVALID write-back: the suggested label replaces the reviewed one (if still there). */
function replaceLabelWrite(
  runId: string,
  u: LabelUpdate,
  r: NonNullable<LabelUpdate['replaceLabel']>,
): Omit<WordWrite, 'Key'> {
  const reason = boundText(u.reason, MAX_PROVIDER_TEXT);
  const past: PastLabel = { label: r.from, validationStatus: 'INVALID', source: u.source, reason };
  return {
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
  };
}
