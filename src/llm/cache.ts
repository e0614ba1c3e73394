// LLM answer cache in DynamoDB, keyed by a hash of everything that shapes the answer, with a TTL;
// identical requests in flight in one process are coalesced onto one provider call. Embeddings are
// cached per text (provider, embedding model, text), so a batch reuses what other batches embedded.
import { createHash } from 'node:crypto';
import {
  BatchGetCommand,
  BatchWriteCommand,
  GetCommand,
  PutCommand,
  type DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';

export interface CacheKeyParts {
  provider: string;
  model: string;
  messages: unknown;
  schema?: unknown;
  params?: unknown;
}

export function cacheKey(parts: CacheKeyParts): string {
  return createHash('sha256')
    .update(
      JSON.stringify([
        parts.provider,
        parts.model,
        parts.messages,
        parts.schema ?? null,
        parts.params ?? null,
      ]),
    )
    .digest('hex');
}

/** Whose vectors an embedding entry holds. */
export interface EmbeddingModel {
  provider: string;
  model: string;
}

export interface CachedAnswer {
  content: string;
  promptTokens: number;
  completionTokens: number;
  model: string;
}

export class LlmCache {
  private readonly inFlight = new Map<string, Promise<unknown>>();

  constructor(
    private readonly ddb: DynamoDBDocumentClient,
    /** The table its entries live in (a batch with other items must write the same one). */
    readonly table: string,
    private readonly ttlSeconds: number,
  ) {}

  async get(key: string, now = Date.now()): Promise<CachedAnswer | undefined> {
    const r = await this.ddb.send(new GetCommand({ TableName: this.table, Key: this.keyOf(key) }));
    return this.answerOf(r.Item, now);
  }

  async put(key: string, answer: CachedAnswer, now = Date.now()): Promise<void> {
    const item = this.itemOf(key, answer, now);
    if (item) await this.ddb.send(new PutCommand({ TableName: this.table, Item: item }));
  }

  /** The DynamoDB key of a structured answer's entry (read with others in one batch: call-bookkeeping.ts). */
  keyOf(key: string): { PK: string; SK: string } {
    return { PK: `LLMCACHE#${key}`, SK: 'ANSWER' };
  }

  /** The answer an entry holds, unless it is missing or expired. */
  answerOf(item: Record<string, unknown> | undefined, now = Date.now()): CachedAnswer | undefined {
    // Expiry is checked here too: DynamoDB's TTL deletes lazily and dynalite not at all.
    if (!item || Number(item.expiresAt) * 1000 <= now) return undefined;
    return item.answer as CachedAnswer;
  }

  /** The entry `put` writes (undefined when caching is off: LLM_CACHE_TTL_S=0). */
  itemOf(key: string, answer: CachedAnswer, now = Date.now()): Record<string, unknown> | undefined {
    if (this.ttlSeconds <= 0) return undefined;
    return {
      ...this.keyOf(key),
      answer,
      createdAt: now,
      expiresAt: Math.floor(now / 1000) + this.ttlSeconds,
    };
  }

  /**
   * The cached vector of each text (undefined where there is none). Keys DynamoDB left unprocessed
   * count as misses: the texts are embedded again, never answered wrongly.
   */
  async getVectors(
    parts: EmbeddingModel,
    texts: readonly string[],
    now = Date.now(),
  ): Promise<Array<number[] | undefined>> {
    const keys = this.vectorKeysOf(parts, texts);
    const found: Record<string, unknown>[] = [];
    for (let i = 0; i < keys.length; i += BATCH_GET_MAX) {
      const r = await this.ddb.send(
        new BatchGetCommand({ RequestItems: { [this.table]: { Keys: keys.slice(i, i + BATCH_GET_MAX) } } }),
      );
      found.push(...(r.Responses?.[this.table] ?? []));
    }
    return this.vectorsFrom(found, parts, texts, now);
  }

  /** The keys of the texts' vector entries, each once (read with others in one batch: call-bookkeeping.ts). */
  vectorKeysOf(parts: EmbeddingModel, texts: readonly string[]): Array<{ PK: string; SK: string }> {
    return [...new Set(texts.map((t) => vectorKey(parts, t)))].map((PK) => ({ PK, SK: 'VECTOR' }));
  }

  /** The vector of each text among the entries read (undefined where there is none or it expired). */
  vectorsFrom(
    items: readonly Record<string, unknown>[],
    parts: EmbeddingModel,
    texts: readonly string[],
    now = Date.now(),
  ): Array<number[] | undefined> {
    const found = new Map<string, number[]>();
    for (const item of items) {
      if (item.SK !== 'VECTOR' || Number(item.expiresAt) * 1000 <= now || !item.vector) continue;
      found.set(String(item.PK), Array.from(toFloat64(item.vector as Uint8Array)));
    }
    return texts.map((t) => found.get(vectorKey(parts, t)));
  }

  /** Caches one vector per text (float64, as the provider sent it). */
  async putVectors(
    parts: EmbeddingModel,
    texts: readonly string[],
    vectors: readonly number[][],
    now = Date.now(),
  ): Promise<void> {
    const all = this.vectorItemsOf(parts, texts, vectors, now);
    for (let i = 0; i < all.length; i += BATCH_WRITE_MAX) {
      await this.ddb.send(
        new BatchWriteCommand({
          RequestItems: {
            [this.table]: all.slice(i, i + BATCH_WRITE_MAX).map((Item) => ({ PutRequest: { Item } })),
          },
        }),
      );
    }
  }

  /** The entries `putVectors` writes, one per distinct text (none when caching is off). */
  vectorItemsOf(
    parts: EmbeddingModel,
    texts: readonly string[],
    vectors: readonly number[][],
    now = Date.now(),
  ): Record<string, unknown>[] {
    if (this.ttlSeconds <= 0) return [];
    const expiresAt = Math.floor(now / 1000) + this.ttlSeconds;
    const items = new Map<string, Record<string, unknown>>();
    texts.forEach((t, i) => {
      const key = vectorKey(parts, t);
      const vector = vectors[i];
      if (vector?.length)
        items.set(key, {
          PK: key,
          SK: 'VECTOR',
          vector: Buffer.from(Float64Array.from(vector).buffer),
          createdAt: now,
          expiresAt,
        });
    });
    return [...items.values()];
  }

  /** Runs `fn` once for concurrent callers with the same key in this process. */
  coalesce<T>(key: string, fn: () => Promise<T>): { promise: Promise<T>; shared: boolean } {
    const existing = this.inFlight.get(key) as Promise<T> | undefined;
    if (existing) return { promise: existing, shared: true };
    const promise = fn().finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, promise);
    return { promise, shared: false };
  }
}

const BATCH_GET_MAX = 100;
const BATCH_WRITE_MAX = 25;

function vectorKey(parts: EmbeddingModel, text: string): string {
  return `LLMCACHE#${cacheKey({ provider: parts.provider, model: parts.model, messages: text, params: 'embedding' })}`;
}

/** A copy: a binary attribute's bytes need not sit at an 8-byte aligned offset. */
function toFloat64(bytes: Uint8Array): Float64Array {
  return new Float64Array(new Uint8Array(bytes).buffer);
}
