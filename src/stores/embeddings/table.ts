// The one DynamoDB gateway of the embedding records: their key scheme, and the consistent reads,
// conditional updates and paginated queries every embedding store method is built from.
import { BatchGetCommand, QueryCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { updateIf } from '../conditional-writes';
import type { EmbedKind } from '../../domain/embedding';
import type { EmbeddingStatus } from '../../domain/receipt';
import { keys, parseWordId } from '../receipts';
import { runPartition } from '../runs';
import type { DeltaItem } from './types';

export type Key = { PK: string; SK: string };
export type Item = Record<string, unknown>;

/** `embeddingBatch` of an item found already embedded in Chroma. */
export const REUSED_FROM_INDEX = 'chroma';

export const gsi2Partition = (kind: EmbedKind, status: EmbeddingStatus) => `EMBED#${kind}#${status}`;

/** Line ids are `<receiptId>#L<nnn>`. */
export function parseLineId(lineId: string): { receiptId: string; lineIndex: number } {
  const m = /^(.*)#L(\d+)$/.exec(lineId);
  if (!m) throw new Error(`Malformed line id ${JSON.stringify(lineId)}`);
  return { receiptId: m[1]!, lineIndex: Number(m[2]) };
}

export function itemKeyOf(kind: EmbedKind, id: string): Key {
  if (kind === 'WORD') {
    const w = parseWordId(id);
    return keys.word(w.receiptId, w.lineIndex, w.wordIndex);
  }
  const l = parseLineId(id);
  return keys.line(l.receiptId, l.lineIndex);
}

export const batchRecordKey = (runId: string, kind: EmbedKind, seq: number): Key => ({
  PK: runPartition(runId),
  SK: `EMBEDBATCH#${kind}-${String(seq).padStart(5, '0')}`,
});
export const deltaKey = (batchKey: string): Key => ({ PK: `EMBEDDELTA#${batchKey}`, SK: 'META' });
export const OPEN_BATCHES = 'EMBEDBATCHES#OPEN';
export const deltaPartition = (state: DeltaItem['state']) => `EMBEDDELTAS#${state}`;
export const stamp = (ms: number) => String(ms).padStart(15, '0');

export { isConditionFailure } from '../conditional-writes';

/** Plumbing shared by the embedding stores (items, batches, deltas). */
export abstract class EmbeddingTable {
  constructor(
    protected readonly ddb: DynamoDBDocumentClient,
    protected readonly table: string,
  ) {}

  protected async getConsistent(key: Key): Promise<Item | undefined> {
    const r = await this.ddb.send(
      new QueryCommand({
        TableName: this.table,
        KeyConditionExpression: 'PK = :pk AND SK = :sk',
        ExpressionAttributeValues: { ':pk': key.PK, ':sk': key.SK },
        ConsistentRead: true,
      }),
    );
    return r.Items?.[0];
  }

  protected updateIf(
    key: Key,
    update: string,
    condition: string,
    values: Record<string, unknown>,
    names?: Record<string, string>,
  ): Promise<boolean> {
    return updateIf(this.ddb, this.table, key, {
      expression: update,
      condition,
      values,
      ...(names ? { names } : {}),
    });
  }

  protected async queryAll(input: Omit<ConstructorParameters<typeof QueryCommand>[0], 'TableName'>) {
    const out: Item[] = [];
    let ExclusiveStartKey: Item | undefined;
    do {
      const r = await this.ddb.send(new QueryCommand({ ...input, TableName: this.table, ExclusiveStartKey }));
      out.push(...(r.Items ?? []));
      ExclusiveStartKey = r.LastEvaluatedKey;
    } while (ExclusiveStartKey);
    return out;
  }

  /** BatchGetItem, 100 keys at a time, consistent, unprocessed keys retried. */
  protected async batchGet(all: readonly Key[]): Promise<Item[]> {
    const out: Item[] = [];
    for (let i = 0; i < all.length; i += 100) {
      let pending: Key[] = all.slice(i, i + 100);
      for (let attempt = 0; pending.length > 0; attempt++) {
        const r = await this.ddb.send(
          new BatchGetCommand({ RequestItems: { [this.table]: { Keys: pending, ConsistentRead: true } } }),
        );
        out.push(...(r.Responses?.[this.table] ?? []));
        pending = (r.UnprocessedKeys?.[this.table]?.Keys ?? []) as Key[];
        if (pending.length > 0) {
          if (attempt > 8) throw new Error(`DynamoDB left ${pending.length} keys unprocessed after retries`);
          await new Promise((res) => setTimeout(res, 50 * 2 ** attempt));
        }
      }
    }
    return out;
  }
}
