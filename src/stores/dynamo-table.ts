// The DynamoDB table as every store reads and writes it: paginated queries (all, the first n, a
// count), batched gets and puts with their unprocessed keys retried, and conditional writes.
import {
  BatchGetCommand,
  BatchWriteCommand,
  GetCommand,
  PutCommand,
  QueryCommand,
  type DynamoDBDocumentClient,
  type QueryCommandInput,
  type QueryCommandOutput,
} from '@aws-sdk/lib-dynamodb';
import { putIfAbsent, updateIf, type ItemKey } from './conditional-writes';

export type TableItem = Record<string, unknown>;
/** A query as the stores write it: the table and the page cursor are the gateway's. */
export type TableQuery = Omit<QueryCommandInput, 'TableName' | 'ExclusiveStartKey'>;

/** Unprocessed batch keys/items are retried this many times, after 50 ms, 100 ms, ... */
const BATCH_RETRIES = 9;
const BATCH_GET_KEYS = 100;
const BATCH_WRITE_ITEMS = 25;

/** Plumbing shared by the stores that own item kinds of the single table. */
export class DynamoTable {
  constructor(
    protected readonly ddb: DynamoDBDocumentClient,
    protected readonly table: string,
  ) {}

  async get(key: ItemKey): Promise<TableItem | undefined> {
    const r = await this.ddb.send(new GetCommand({ TableName: this.table, Key: key, ConsistentRead: true }));
    return r.Item;
  }

  async put(item: TableItem & ItemKey): Promise<void> {
    await this.ddb.send(new PutCommand({ TableName: this.table, Item: item }));
  }

  /** Puts an item only if absent; returns false when it already existed (idempotent create). */
  putIfAbsent(item: TableItem & ItemKey): Promise<boolean> {
    return putIfAbsent(this.ddb, this.table, item);
  }

  /**
   * A conditional UpdateItem: true when applied, false when the condition did not hold (e.g. the
   * item is missing or in a state the caller must not overwrite).
   */
  updateIf(
    key: ItemKey,
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

  /** Every item of a query (paginated). */
  async queryAll(input: TableQuery): Promise<TableItem[]> {
    const out: TableItem[] = [];
    await this.eachPage(
      () => input,
      (page) => {
        out.push(...(page.Items ?? []));
        return true;
      },
    );
    return out;
  }

  /** All items of a partition whose sort key starts with a prefix (paginated). */
  queryPrefix(pk: string, skPrefix: string): Promise<TableItem[]> {
    return this.queryAll({
      KeyConditionExpression: 'PK = :pk AND begins_with(SK, :sk)',
      ExpressionAttributeValues: { ':pk': pk, ':sk': skPrefix },
    });
  }

  /**
   * The first `limit` items of a query, paginated until that many or no more; each page asks for
   * what is still missing, at most `page.max`. Under a FilterExpression pass `page.filtered`: a
   * Limit counts items before the filter, so pages would come back short; pages are then read
   * whole and the result cut to `limit`.
   */
  async queryUpTo(
    input: TableQuery,
    limit: number,
    page: { max?: number; filtered?: boolean } = {},
  ): Promise<TableItem[]> {
    const out: TableItem[] = [];
    await this.eachPage(
      () => (page.filtered ? input : { ...input, Limit: Math.min(page.max ?? Infinity, limit - out.length) }),
      (p) => {
        out.push(...(p.Items ?? []));
        return out.length < limit;
      },
    );
    return out.slice(0, limit);
  }

  /** How many items a query matches (Select COUNT, paginated; nothing read). */
  async queryCount(input: TableQuery): Promise<number> {
    let count = 0;
    await this.eachPage(
      () => ({ ...input, Select: 'COUNT' }),
      (page) => {
        count += page.Count ?? 0;
        return true;
      },
    );
    return count;
  }

  /** Items by key: BatchGetItem, 100 keys at a time, unprocessed keys retried; missing ones left out. */
  async batchGet(keys: readonly ItemKey[], consistent = true): Promise<TableItem[]> {
    const out: TableItem[] = [];
    for (let i = 0; i < keys.length; i += BATCH_GET_KEYS) {
      await retryUnprocessed(keys.slice(i, i + BATCH_GET_KEYS), 'keys', async (Keys) => {
        const r = await this.ddb.send(
          new BatchGetCommand({
            RequestItems: { [this.table]: { Keys, ...(consistent ? { ConsistentRead: true } : {}) } },
          }),
        );
        out.push(...(r.Responses?.[this.table] ?? []));
        return (r.UnprocessedKeys?.[this.table]?.Keys ?? []) as ItemKey[];
      });
    }
    return out;
  }

  /** Puts items (overwriting): BatchWriteItem, 25 at a time, unprocessed items retried. */
  async batchPut(items: TableItem[]): Promise<void> {
    for (let i = 0; i < items.length; i += BATCH_WRITE_ITEMS) {
      const requests = items.slice(i, i + BATCH_WRITE_ITEMS).map((Item) => ({ PutRequest: { Item } }));
      await retryUnprocessed(requests, 'items', async (batch) => {
        const r = await this.ddb.send(new BatchWriteCommand({ RequestItems: { [this.table]: batch } }));
        return (r.UnprocessedItems?.[this.table] ?? []) as typeof batch;
      });
    }
  }

  /**
   * Runs a query page after page: `input()` is asked for each page's query (its Limit may shrink),
   * `onPage` takes the page and says whether to read on.
   */
  private async eachPage(
    input: () => TableQuery,
    onPage: (page: QueryCommandOutput) => boolean,
  ): Promise<void> {
    let ExclusiveStartKey: TableItem | undefined;
    do {
      const page = await this.ddb.send(
        new QueryCommand({ ...input(), TableName: this.table, ExclusiveStartKey }),
      );
      ExclusiveStartKey = page.LastEvaluatedKey;
      if (!onPage(page)) return;
    } while (ExclusiveStartKey);
  }
}

/** Sends `batch`, then what DynamoDB left unprocessed, with backoff, until nothing is left. */
async function retryUnprocessed<T>(
  batch: T[],
  what: string,
  send: (batch: T[]) => Promise<T[]>,
): Promise<void> {
  let pending = batch;
  for (let attempt = 0; pending.length > 0; attempt++) {
    pending = await send(pending);
    if (pending.length > 0) {
      if (attempt >= BATCH_RETRIES)
        throw new Error(`DynamoDB left ${pending.length} ${what} unprocessed after retries`);
      await new Promise((res) => setTimeout(res, 50 * 2 ** attempt));
    }
  }
}
