// The one DynamoDB gateway of the embedding records: their key scheme, and the consistent reads,
// conditional updates and paginated queries every embedding store method is built from.
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { DynamoTable, type TableItem } from '../dynamo-table';
import type { EmbedKind } from '../../domain/embedding';
import type { EmbeddingStatus } from '../../domain/receipt';
import { keys, parseWordId } from '../receipts';
import { runPartition } from '../runs';
import type { DeltaItem } from './types';

export type Key = { PK: string; SK: string };
export type Item = TableItem;

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

/** Plumbing shared by the embedding stores (items, batches, deltas), on the table gateway. */
export abstract class EmbeddingTable extends DynamoTable {
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
}
