// Typed handles on dynalite 4's internal modules (its store, validations and single-item actions),
// which the TransactWriteItems shim (dynalite-transactions.ts) reuses; dynalite ships no types.
import { createRequire } from 'node:module';

export type Item = Record<string, unknown>;
export type Done = (err?: DynaliteError | null, out?: unknown) => void;
export interface DynaliteError extends Error {
  statusCode?: number;
  body?: unknown;
}
export interface ItemDb {
  get(key: string, cb: (err: Error | null, item?: Item) => void): void;
  /** dynalite's `lock` package: the keys (one or many) are held until the released callback runs. */
  lock(keys: string | string[], exec: (release: (done: Done) => Done) => void): void;
}
export interface Table {
  TableName: string;
}
export interface Store {
  getTable(name: string, cb: (err: DynaliteError | null, table: Table) => void): void;
  getItemDb(name: string): ItemDb;
}
export type Action = (store: Store, data: Item, cb: Done) => void;
type ActionName = 'updateItem' | 'putItem' | 'deleteItem';

const req = createRequire(__filename);
export const dynaliteDb = req('dynalite/db') as {
  create: (options: object) => Store;
  createKey: (item: unknown, table: Table) => string;
  checkConditional: (data: Item, item: Item | undefined) => DynaliteError | null | undefined;
  validationError: (msg: string) => DynaliteError;
};
export const validations = req('dynalite/validations') as {
  checkTypes: (data: Item, types: object) => Item;
  checkValidations: (data: Item, types: object, custom: unknown, store: Store) => void;
};
const action = (name: ActionName) => ({
  run: req(`dynalite/actions/${name}`) as Action,
  rules: req(`dynalite/validations/${name}`) as { types: object; custom: unknown },
});
/** Each entry kind is validated (expressions parsed) as the single-item action it resembles. */
export const KINDS = {
  Update: action('updateItem'),
  Put: action('putItem'),
  Delete: action('deleteItem'),
  ConditionCheck: action('deleteItem'),
} as const;
export type Kind = keyof typeof KINDS;

/** Runs one of dynalite's actions (its own lookups, condition check, write and index updates). */
export function runAction(run: Action, store: Store, data: Item): Promise<unknown> {
  return new Promise((resolve, reject) => run(store, data, (err, out) => (err ? reject(err) : resolve(out))));
}

/** An item as stored, or undefined. */
export function readItem(itemDb: ItemDb, key: string): Promise<Item | undefined> {
  return new Promise((resolve, reject) =>
    itemDb.get(key, (err, item) =>
      err && err.name !== 'NotFoundError' ? reject(err) : resolve(err ? undefined : item),
    ),
  );
}

/** Holds the keys' item locks (all of them at once); resolves with their release. */
export function lockKeys(itemDb: ItemDb, keys: string[]): Promise<() => void> {
  return new Promise((resolve) => itemDb.lock(keys, (release) => resolve(release(() => {}))));
}
