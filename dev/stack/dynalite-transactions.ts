// DynamoDB's TransactWriteItems for the dev stack's dynalite (4.0.0 has no transactions): Update,
// Put, Delete and ConditionCheck entries, validated and applied by dynalite's own code.
//
// Isolation it gives: transactions run one at a time (a process-wide mutex), and each holds dynalite's
// per-item locks on every item it names from its condition checks to its last write, so a concurrent
// single-item write (PutItem, UpdateItem, DeleteItem, BatchWriteItem) lands before or after the whole
// transaction, never between its check and its writes. Reads (GetItem, Query, Scan) take no locks in
// dynalite and can see a transaction half applied. An entry that fails while being applied (an update
// expression that does not fit the item, an oversized item) leaves the entries before it applied;
// AWS would cancel the whole transaction with a ValidationError reason instead.
import type http from 'node:http';
import {
  dynaliteDb,
  KINDS,
  lockKeys,
  readItem,
  runAction,
  validations,
  type DynaliteError,
  type Done,
  type Item,
  type ItemDb,
  type Kind,
  type Store,
  type Table,
} from './dynalite-internals';

export const TRANSACT_WRITE_TARGET = 'DynamoDB_20120810.TransactWriteItems';
const MAX_ENTRIES = 100;
const CORAL = 'com.amazon.coral.service#';

interface Entry {
  kind: Kind;
  data: Item;
  table: Table;
  key: string;
  /** The item as the check phase read it (under the lock, so still current when applied). */
  item?: Item;
}

/** dynalite(options) with TransactWriteItems answered beside dynalite's own operations. */
export function dynaliteWithTransactions<O extends object>(
  dynalite: (options: O) => http.Server,
  options: O,
): http.Server {
  const create = dynaliteDb.create;
  let store: Store | undefined;
  dynaliteDb.create = (o) => (store = create(o));
  const server = dynalite(options);
  dynaliteDb.create = create;
  const held = store;
  if (!held) throw new Error('dynalite did not create its store through dynalite/db');
  const [dynaliteHandler] = server.listeners('request') as http.RequestListener[];
  server.removeAllListeners('request');
  server.on('request', (request: http.IncomingMessage, res: http.ServerResponse) => {
    if (request.headers['x-amz-target'] !== TRANSACT_WRITE_TARGET) return dynaliteHandler!(request, res);
    readJson(request)
      .then((body) => serially(() => transactWriteItems(held, body)))
      .then(
        () => send(res, 200, {}),
        (e: DynaliteError) => send(res, e.statusCode ?? 500, e.body ?? { __type: `${CORAL}InternalFailure` }),
      );
  });
  return server;
}

async function transactWriteItems(store: Store, body: Item): Promise<void> {
  const tables = new Map<string, Promise<Table>>();
  const entries = await Promise.all(entriesOf(body, store).map((e) => withKey(store, e, tables)));
  const names = new Set(entries.map((e) => `${e.table.TableName}\u0000${e.key}`));
  if (names.size < entries.length)
    throw dynaliteDb.validationError('Transaction request cannot include multiple operations on one item');
  const release = await lockAll(store, entries);
  try {
    await Promise.all(
      entries.map(async (e) => (e.item = await readItem(store.getItemDb(e.table.TableName), e.key))),
    );
    const failed = entries.map((e) => dynaliteDb.checkConditional(e.data, e.item) != null);
    if (failed.some(Boolean)) throw cancelled(failed);
    const snapshot = lockFree(store, entries);
    for (const e of entries) {
      if (e.kind !== 'ConditionCheck') await runAction(KINDS[e.kind].run, snapshot, e.data);
    }
  } finally {
    release();
  }
}

function entriesOf(body: Item, store: Store): Array<Pick<Entry, 'kind' | 'data'>> {
  const items = body?.TransactItems;
  if (!Array.isArray(items) || items.length === 0 || items.length > MAX_ENTRIES)
    throw dynaliteDb.validationError(`TransactItems must hold 1 to ${MAX_ENTRIES} entries`);
  return items.map((entry: Item) => {
    const kinds = Object.keys(entry ?? {}).filter((k): k is Kind => k in KINDS);
    if (kinds.length !== 1)
      throw dynaliteDb.validationError('Each TransactItem must hold exactly one operation');
    const kind = kinds[0]!;
    const { types, custom } = KINDS[kind].rules;
    // checkTypes drops what the single-item operation does not know (ReturnValuesOnConditionCheckFailure).
    const data = validations.checkTypes({ ...(entry[kind] as Item) }, types);
    validations.checkValidations(data, types, custom, store);
    return { kind, data };
  });
}

async function withKey(
  store: Store,
  e: Pick<Entry, 'kind' | 'data'>,
  tables: Map<string, Promise<Table>>,
): Promise<Entry> {
  const name = String(e.data.TableName);
  if (!tables.has(name))
    tables.set(name, new Promise((ok, fail) => store.getTable(name, (err, t) => (err ? fail(err) : ok(t)))));
  const table = await tables.get(name)!;
  return { ...e, table, key: dynaliteDb.createKey(e.data.Key ?? e.data.Item, table) };
}

/** Holds every named item's lock (table by table); single-item writes to them wait until release. */
async function lockAll(store: Store, entries: Entry[]): Promise<() => void> {
  const releases: Array<() => void> = [];
  for (const name of [...new Set(entries.map((e) => e.table.TableName))].sort()) {
    const keys = entries.filter((e) => e.table.TableName === name).map((e) => e.key);
    releases.push(await lockKeys(store.getItemDb(name), keys));
  }
  return () => releases.forEach((r) => r());
}

function cancelled(failed: boolean[]): DynaliteError {
  const codes = failed.map((f) => (f ? 'ConditionalCheckFailed' : 'None'));
  const message = `Transaction cancelled, please refer cancellation reasons for specific reasons [${codes.join(', ')}]`;
  return Object.assign(new Error(message), {
    statusCode: 400,
    body: {
      __type: 'com.amazonaws.dynamodb.v20120810#TransactionCanceledException',
      Message: message,
      CancellationReasons: codes.map((Code) =>
        Code === 'None' ? { Code } : { Code, Message: 'The conditional request failed' },
      ),
    },
  });
}

/**
 * The store as dynalite's actions see it while this transaction applies: no item locks (it holds
 * them), and its tables and items as read for the checks (one LevelDB read each, not two).
 */
function lockFree(store: Store, entries: Entry[]): Store {
  const getItemDb = (name: string): ItemDb => {
    const itemDb = store.getItemDb(name);
    const read = new Map(entries.filter((e) => e.table.TableName === name).map((e) => [e.key, e.item]));
    return Object.create(itemDb, {
      lock: { value: (_k: unknown, exec: (r: (d: Done) => Done) => void) => exec((d) => d) },
      get: {
        value: (key: string, cb: (err: Error | null, item?: Item) => void) => {
          if (!read.has(key)) return itemDb.get(key, cb);
          const item = read.get(key);
          cb(item ? null : Object.assign(new Error('NotFound'), { name: 'NotFoundError' }), item);
        },
      },
    }) as ItemDb;
  };
  const getTable = (name: string, ...rest: unknown[]) => {
    const table = entries.find((e) => e.table.TableName === name)?.table;
    if (!table) return (store.getTable as (...a: unknown[]) => void)(name, ...rest);
    (rest[rest.length - 1] as (err: null, t: Table) => void)(null, table);
  };
  return Object.create(store, { getItemDb: { value: getItemDb }, getTable: { value: getTable } }) as Store;
}

let tail: Promise<unknown> = Promise.resolve();
/** One transaction at a time: their multi-key locks never interleave. */
function serially<T>(fn: () => Promise<T>): Promise<T> {
  const run = tail.then(fn);
  tail = run.catch(() => undefined);
  return run;
}

async function readJson(request: http.IncomingMessage): Promise<Item> {
  const chunks: Buffer[] = [];
  for await (const c of request) chunks.push(c as Buffer);
  try {
    return JSON.parse(Buffer.concat(chunks).toString() || 'null') as Item;
  } catch {
    throw Object.assign(new Error('bad JSON'), {
      statusCode: 400,
      body: { __type: `${CORAL}SerializationException` },
    });
  }
}

function send(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/x-amz-json-1.0');
  res.setHeader('Content-Length', Buffer.byteLength(text));
  res.end(text);
}
