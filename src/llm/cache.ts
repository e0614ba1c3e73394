// LLM answer cache in DynamoDB, keyed by a hash of everything that shapes the answer, with a TTL;
// identical requests in flight in one process are coalesced onto one provider call.
import { createHash } from 'node:crypto';
import { GetCommand, PutCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

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
    private readonly table: string,
    private readonly ttlSeconds: number,
  ) {}

  async get(key: string, now = Date.now()): Promise<CachedAnswer | undefined> {
    const r = await this.ddb.send(
      new GetCommand({ TableName: this.table, Key: { PK: `LLMCACHE#${key}`, SK: 'ANSWER' } }),
    );
    const item = r.Item;
    // Expiry is checked here too: DynamoDB's TTL deletes lazily and dynalite not at all.
    if (!item || Number(item.expiresAt) * 1000 <= now) return undefined;
    return item.answer as CachedAnswer;
  }

  async put(key: string, answer: CachedAnswer, now = Date.now()): Promise<void> {
    if (this.ttlSeconds <= 0) return;
    await this.ddb.send(
      new PutCommand({
        TableName: this.table,
        Item: {
          PK: `LLMCACHE#${key}`,
          SK: 'ANSWER',
          answer,
          createdAt: now,
          expiresAt: Math.floor(now / 1000) + this.ttlSeconds,
        },
      }),
    );
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
