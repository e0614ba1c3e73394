// The harmonizer's decision cache in DynamoDB: one item per (merchant, label, word in context) with
// the outlier decision and a TTL, reused across runs and, within a run, for repeated words.
import { createHash } from 'node:crypto';
import type { Label } from '../domain/llm-tasks';
import type { DynamoTable } from './dynamo-table';
import { boundText, MAX_PROVIDER_TEXT } from '../domain/bounded-text';

export interface OutlierDecision {
  outlier: boolean;
  suggestedLabel: Label | null;
  reason: string;
}

/** Bump when the prompt or the embedded text changes meaning, so old decisions stop matching. */
export const DECISION_KEY_VERSION = 1;

/**
 * Cache key of a decision: sha256 of (version, merchant, label, the word as embedded). The word is
 * keyed with its context (`CHEESE <4.43>`), not bare: the same amount can be a right unit price on
 * one line and a planted one on another, and bare text made those share one decision.
 */
export function decisionKey(merchantId: string, label: string, embeddedText: string): string {
  return createHash('sha256')
    .update(JSON.stringify([DECISION_KEY_VERSION, merchantId, label, embeddedText]))
    .digest('hex');
}

const itemKey = (key: string) => ({ PK: `HARMCACHE#${key}`, SK: 'DECISION' });

export class OutlierDecisionCache {
  constructor(
    private readonly store: DynamoTable,
    private readonly ttlSeconds: number,
  ) {}

  /** Unexpired decisions for the keys found (BatchGetItem, 100 keys a request). */
  async getMany(keys: readonly string[], now = Date.now()): Promise<Map<string, OutlierDecision>> {
    const out = new Map<string, OutlierDecision>();
    for (const item of await this.store.batchGet([...new Set(keys)].map(itemKey), false)) {
      // Expiry is checked here too: DynamoDB's TTL deletes lazily and dynalite not at all.
      if (Number(item.expiresAt) * 1000 <= now) continue;
      out.set(String(item.PK).slice('HARMCACHE#'.length), item.decision as OutlierDecision);
    }
    return out;
  }

  /** Writes decisions (overwriting older ones); a TTL of 0 disables the cache. */
  async putMany(entries: ReadonlyArray<{ key: string; decision: OutlierDecision }>, now = Date.now()) {
    if (this.ttlSeconds <= 0 || entries.length === 0) return;
    const expiresAt = Math.floor(now / 1000) + this.ttlSeconds;
    await this.store.batchPut(
      entries.map((e) => ({
        ...itemKey(e.key),
        decision: { ...e.decision, reason: boundText(e.decision.reason, MAX_PROVIDER_TEXT) },
        createdAt: now,
        expiresAt,
      })),
    );
  }
}
