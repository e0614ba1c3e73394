// The DynamoDB round trips of one structured LLM call, as few as its guarantees allow: its answer
// ledger entry and its cache entry read in one BatchGetItem (consistent), and a paid answer kept with
// its cache entry and call record in one BatchWriteItem (unprocessed items retried). When a batch
// fails, the separate requests are made instead, so a failure behaves as it always did: a ledger
// read error is thrown, a ledger write error logged, the cache entry and the record best effort.
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DynamoTable } from '../stores/dynamo-table';
import type { CallRecord } from './accounting';
import {
  type AnswerLedger,
  type LedgerCall,
  type PaidAnswer,
  keepPaidAnswer,
  paidAnswerOf,
} from './answer-ledger';
import type { CachedAnswer, LlmCache } from './cache';
import type { CallRecorder } from './call-records';

export interface CallBookkeepingDeps {
  /** The client the batches go through (the ledger and the cache keep theirs for separate requests). */
  ddb: DynamoDBDocumentClient;
  table: string;
  cache: LlmCache;
  ledger?: AnswerLedger;
}

/** What a call finds before it asks the provider: the answer it already paid for, and the cache's. */
export interface StoredAnswers {
  /** This logical call's paid answer for this request (it wins over the cache). */
  paid?: PaidAnswer;
  hit?: CachedAnswer;
}

/**
 * Reads the call's ledger entry (when it has an `answerId`) and, with `useCache`, the cache entry
 * of `requestKey`: one BatchGetItem when both are wanted, else the one read.
 */
export async function readStoredAnswers(
  deps: CallBookkeepingDeps,
  call: LedgerCall,
  requestKey: string,
  useCache: boolean,
): Promise<StoredAnswers> {
  const { ledger, cache } = deps;
  const separately = async (): Promise<StoredAnswers> => {
    const [paid, hit] = await Promise.all([
      paidAnswerOf(ledger, call, requestKey),
      useCache ? cache.get(requestKey) : undefined,
    ]);
    return { paid, hit };
  };
  if (!useCache || !call.answerId || !ledger || !oneTable(deps.table, ledger.table, cache.table))
    return separately();
  const ledgerKey = ledger.firstKey(call.runId, call.answerId);
  const cacheKey = cache.keyOf(requestKey);
  let items: Record<string, unknown>[];
  try {
    // Consistent for the ledger's sake (an attempt must see what the previous one kept).
    items = await new DynamoTable(deps.ddb, deps.table).batchGet([ledgerKey, cacheKey], true);
  } catch {
    return separately();
  }
  const find = (k: { PK: string; SK: string }) => items.find((i) => i.PK === k.PK && i.SK === k.SK);
  const now = Date.now();
  return {
    paid: await ledger.answerFrom(find(ledgerKey), call.runId, call.answerId, requestKey, now),
    hit: cache.answerOf(find(cacheKey), now),
  };
}

/** What is kept of a paid (or shared) answer. */
export interface PaidCallWrites {
  paid: PaidAnswer;
  record: CallRecord;
  /** The answer to cache under `paid.requestKey` (none when another call caches it). */
  cache?: CachedAnswer;
}

/**
 * Keeps a paid answer in the ledger with its cache entry and call record: one BatchWriteItem when the
 * answer is one ledger item (any structured answer), else the ledger's parts in order first. Never
 * throws: a ledger write that fails is logged (a retry would pay again), the rest is best effort.
 */
export async function keepPaidCall(
  deps: CallBookkeepingDeps,
  records: CallRecorder,
  call: LedgerCall,
  writes: PaidCallWrites,
): Promise<void> {
  records.observe(writes.record);
  const items = batchOf(deps, records, call, writes);
  if (items) {
    try {
      await new DynamoTable(deps.ddb, deps.table).batchPut(items);
      return;
    } catch {
      // The separate writes below, the ledger's first, as if there were no batch.
    }
  }
  await keepPaidAnswer(deps.ledger, call, writes.paid);
  await Promise.allSettled([
    writes.cache && deps.cache.put(writes.paid.requestKey, writes.cache),
    records.write(writes.record),
  ]);
}

/** The items of one BatchWriteItem, or undefined when they cannot go in one. */
function batchOf(
  deps: CallBookkeepingDeps,
  records: CallRecorder,
  call: LedgerCall,
  writes: PaidCallWrites,
): Record<string, unknown>[] | undefined {
  const { ledger, cache } = deps;
  if (!oneTable(deps.table, cache.table, records.table, ledger?.table ?? deps.table)) return undefined;
  const now = Date.now();
  let ledgerItems: Record<string, unknown>[] = [];
  if (call.answerId && ledger) {
    try {
      ledgerItems = ledger.itemsOf(call.runId, call.answerId, writes.paid, now);
    } catch {
      return undefined; // not encodable: the separate write logs why
    }
    // A split answer's parts must be written before its first part: one by one, in order.
    if (ledgerItems.length > 1) return undefined;
  }
  const cacheItem = writes.cache && cache.itemOf(writes.paid.requestKey, writes.cache, now);
  return [...ledgerItems, ...(cacheItem ? [cacheItem] : []), records.itemOf(writes.record)];
}

function oneTable(table: string, ...others: string[]): boolean {
  return others.every((t) => t === table);
}
