// The DynamoDB round trips of one LLM call, as few as its guarantees allow: its answer ledger entry
// and its cache entries read in one BatchGetItem (consistent), and a paid answer kept with its cache
// entries and call record in one BatchWriteItem (unprocessed items retried). When a batch fails, the
// separate requests are made instead, so a failure behaves as it always did: a ledger read error is
// thrown, a ledger write error logged, the cache entries and the record best effort.
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
import type { CachedAnswer, EmbeddingModel, LlmCache } from './cache';
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

/** What an embedding call finds: the vectors it already paid for, and the cache's vector of each text. */
export interface StoredVectors {
  paid?: PaidAnswer;
  cached: Array<number[] | undefined>;
}

/**
 * Reads the call's ledger entry (when it has an `answerId`) and, with `useCache`, the texts' cached
 * vectors: one BatchGetItem (100 keys a request) when both are wanted, else the one read.
 */
export async function readStoredVectors(
  deps: CallBookkeepingDeps,
  call: LedgerCall,
  requestKey: string,
  embedding: { model: EmbeddingModel; texts: readonly string[] },
  useCache: boolean,
): Promise<StoredVectors> {
  const { ledger, cache } = deps;
  const { model, texts } = embedding;
  const separately = async (): Promise<StoredVectors> => {
    const paid = await paidAnswerOf(ledger, call, requestKey);
    if (paid?.vectors?.length === texts.length || !useCache)
      return { paid, cached: texts.map(() => undefined) };
    return { paid, cached: await cache.getVectors(model, texts) };
  };
  if (!useCache || !call.answerId || !ledger || !oneTable(deps.table, ledger.table, cache.table))
    return separately();
  const ledgerKey = ledger.firstKey(call.runId, call.answerId);
  let items: Record<string, unknown>[];
  try {
    const keys = [ledgerKey, ...cache.vectorKeysOf(model, texts)];
    items = await new DynamoTable(deps.ddb, deps.table).batchGet(keys, true);
  } catch {
    return separately();
  }
  const now = Date.now();
  const first = items.find((i) => i.PK === ledgerKey.PK && i.SK === ledgerKey.SK);
  return {
    paid: await ledger.answerFrom(first, call.runId, call.answerId, requestKey, now),
    cached: cache.vectorsFrom(items, model, texts, now),
  };
}

/** What is kept of a paid (or shared) answer. */
export interface PaidCallWrites {
  paid: PaidAnswer;
  record: CallRecord;
  /** The answer to cache under `paid.requestKey` (none when another call caches it). */
  cache?: CachedAnswer;
  /** Embedding calls: the vectors to cache, one per text. */
  vectors?: { model: EmbeddingModel; texts: readonly string[]; vectors: readonly number[][] };
}

/**
 * Keeps a paid answer in the ledger with its cache entries and call record: one BatchWriteItem (25
 * items a request) when the answer is one ledger item (any structured answer; vectors up to ~300 KB),
 * else the ledger's parts in order first. Never throws: a ledger write that fails is logged (a retry
 * would pay again); the cache entries and the record are best effort.
 */
export async function keepPaidCall(
  deps: CallBookkeepingDeps,
  records: CallRecorder,
  call: LedgerCall,
  writes: PaidCallWrites,
): Promise<void> {
  records.observe(writes.record);
  const { ledger, cache } = deps;
  const now = Date.now();
  const batched = oneTable(deps.table, cache.table, records.table, ledger?.table ?? deps.table);
  const ledgerItems = batched ? oneLedgerItem(deps, call, writes.paid, now) : undefined;
  // A split answer's parts must be written before its first part: one by one, in order, first.
  if (!ledgerItems) await keepPaidAnswer(ledger, call, writes.paid);
  if (batched) {
    const items = [
      ...(ledgerItems ?? []),
      ...cacheItemsOf(cache, writes, now),
      records.itemOf(writes.record),
    ];
    try {
      await new DynamoTable(deps.ddb, deps.table).batchPut(items);
      return;
    } catch {
      // The separate writes below, the ledger's first, as if there were no batch.
    }
  }
  if (ledgerItems) await keepPaidAnswer(ledger, call, writes.paid);
  await Promise.allSettled([
    writes.cache && cache.put(writes.paid.requestKey, writes.cache),
    writes.vectors && cache.putVectors(writes.vectors.model, writes.vectors.texts, writes.vectors.vectors),
    records.write(writes.record),
  ]);
}

/** The ledger entry as one item ([] without a ledger), or undefined when it is split or not encodable. */
function oneLedgerItem(
  deps: CallBookkeepingDeps,
  call: LedgerCall,
  paid: PaidAnswer,
  now: number,
): Record<string, unknown>[] | undefined {
  if (!call.answerId || !deps.ledger) return [];
  try {
    const items = deps.ledger.itemsOf(call.runId, call.answerId, paid, now);
    return items.length === 1 ? items : undefined;
  } catch {
    return undefined; // not encodable: the separate write logs why
  }
}

function cacheItemsOf(cache: LlmCache, writes: PaidCallWrites, now: number): Record<string, unknown>[] {
  const answer = writes.cache && cache.itemOf(writes.paid.requestKey, writes.cache, now);
  const v = writes.vectors;
  return [...(answer ? [answer] : []), ...(v ? cache.vectorItemsOf(v.model, v.texts, v.vectors, now) : [])];
}

function oneTable(table: string, ...others: string[]): boolean {
  return others.every((t) => t === table);
}
