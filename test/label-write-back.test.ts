// The review's label write-back as DynamoDB transactions (real dynalite, the stack's with its
// TransactWriteItems shim): a receipt's updates in one request, a failed condition skipping only its
// word, a retry of the run applying nothing, chunks of 100, and the one-by-one fallback on a plain
// dynalite that has no transactions.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { loadConfig } from '../src/config';
import { createStores } from '../src/deps';
import { wordIdOf, type Receipt } from '../src/domain/receipt';
import { keys, type LabelUpdate } from '../src/stores/receipts';
import { ensureTable } from '../src/stores/provision';
import { ensureStack } from '../dev/harness/stack';
import { uniqueId } from '../dev/harness/pipeline';

type Stores = ReturnType<typeof createStores>;

/** The commands a client sends, by name (TransactWriteItems, UpdateItem, ...). */
function recordCommands(ddb: DynamoDBDocumentClient) {
  const sent: string[] = [];
  ddb.middlewareStack.add(
    (next, context) => (args) => {
      sent.push(String(context.commandName).replace(/Command$/, ''));
      return next(args);
    },
    { step: 'initialize', name: `record${uniqueId()}` },
  );
  return { sent, count: (c: string) => sent.filter((s) => s === c).length, clear: () => sent.splice(0) };
}

/** A receipt of `n` words on one line; the first `labelled` carry ADDRESS_LINE (VALID, seed). */
function receiptOf(receiptId: string, n: number, labelled = n): Receipt {
  const words = Array.from({ length: n }, (_, i) => ({
    wordId: wordIdOf(receiptId, 0, i),
    lineIndex: 0,
    wordIndex: i,
    text: `w${i}`,
    ...(i < labelled
      ? { label: { label: 'ADDRESS_LINE' as const, validationStatus: 'VALID' as const, source: 'seed' } }
      : {}),
  }));
  return {
    receiptId,
    merchantId: 'wb-m',
    merchantName: 'WB',
    purchasedAt: '2026-01-31',
    lines: [{ lineId: `${receiptId}#L000`, lineIndex: 0, text: 'line', words }],
  };
}

const statusUpdate = (wordId: string): LabelUpdate => ({
  wordId,
  validationStatus: 'INVALID',
  reason: 'not an address',
  source: 'llm-review',
  suggestedLabel: null,
});

/** Stores on a table of their own (`env` over the process's: another DynamoDB endpoint). */
async function storesOn(env: NodeJS.ProcessEnv = {}): Promise<Stores> {
  const cfg = loadConfig({ ...process.env, ...env, DYNAMODB_TABLE: `test-wb-${uniqueId()}` });
  await ensureTable(cfg);
  return createStores(cfg);
}

/**
 * The next TransactWriteItems is cancelled with `code` for its first entry (None for the others)
 * without reaching DynamoDB, as DynamoDB does when another transaction holds an item.
 */
function cancelNextTransaction(ddb: DynamoDBDocumentClient, code: string) {
  let done = false;
  ddb.middlewareStack.add(
    (next, context) => (args) => {
      if (done || context.commandName !== 'TransactWriteItemsCommand') return next(args);
      done = true;
      const items = (args.input as { TransactItems: unknown[] }).TransactItems;
      throw new TransactionCanceledException({
        message: `Transaction cancelled [${code}]`,
        $metadata: {},
        CancellationReasons: items.map((_, i) => ({ Code: i === 0 ? code : 'None' })),
      });
    },
    { step: 'initialize', name: `cancel${uniqueId()}` },
  );
}

const wordOf = (s: Stores, receiptId: string, i: number) => s.receipts.get(keys.word(receiptId, 0, i));

describe('label write-back through transactions', { timeout: 120_000 }, () => {
  let s: Stores;
  let commands: ReturnType<typeof recordCommands>;
  before(async () => {
    await ensureStack();
    s = await storesOn();
    commands = recordCommands(s.ddb);
  });
  after(() => s?.ddb.destroy());

  test("a receipt's 26 updates (status, created and replaced labels) go in one request, all applied", async () => {
    const r = `wb-${uniqueId()}`;
    await s.receipts.putReceipts([receiptOf(r, 26, 24)]);
    const updates = Array.from({ length: 22 }, (_, i) => statusUpdate(wordIdOf(r, 0, i)));
    updates.push(
      {
        ...statusUpdate(wordIdOf(r, 0, 22)),
        replaceLabel: { from: 'ADDRESS_LINE', to: 'PHONE_NUMBER', merchantId: 'wb-m' },
      },
      {
        ...statusUpdate(wordIdOf(r, 0, 23)),
        replaceLabel: { from: 'ADDRESS_LINE', to: 'DATE', merchantId: 'wb-m' },
      },
      {
        ...statusUpdate(wordIdOf(r, 0, 24)),
        validationStatus: 'VALID',
        createLabel: { label: 'TIME', merchantId: 'wb-m' },
      },
      {
        ...statusUpdate(wordIdOf(r, 0, 25)),
        validationStatus: 'VALID',
        createLabel: { label: 'TIME', merchantId: 'wb-m' },
      },
    );
    commands.clear();
    assert.equal(await s.receipts.applyLabelUpdates('run-1', updates), 26);
    assert.deepEqual(commands.sent, ['TransactWriteItems']);

    const plain = await wordOf(s, r, 0);
    assert.equal(plain!.validationStatus, 'INVALID');
    assert.equal(plain!.reviewedByRun, 'run-1');
    const replaced = await wordOf(s, r, 22);
    assert.equal(replaced!.label, 'PHONE_NUMBER');
    assert.deepEqual(
      (replaced!.pastLabels as Array<{ label: string }>).map((p) => p.label),
      ['ADDRESS_LINE'],
    );
    const created = await wordOf(s, r, 25);
    assert.equal(created!.label, 'TIME');
    assert.equal(created!.GSI1PK, (await wordOf(s, r, 24))!.GSI1PK);
  });

  test('a word whose condition fails is skipped, the others applied; a retry of the run applies none', async () => {
    const r = `wb-${uniqueId()}`;
    await s.receipts.putReceipts([receiptOf(r, 5)]);
    const updates: LabelUpdate[] = [
      statusUpdate(wordIdOf(r, 0, 0)),
      // Word 1 is labelled already: a created label's condition fails.
      {
        ...statusUpdate(wordIdOf(r, 0, 1)),
        validationStatus: 'VALID',
        createLabel: { label: 'TIME', merchantId: 'wb-m' },
      },
      // Word 2's label is not the `from`: the replacement's condition fails.
      { ...statusUpdate(wordIdOf(r, 0, 2)), replaceLabel: { from: 'DATE', to: 'TIME', merchantId: 'wb-m' } },
      {
        ...statusUpdate(wordIdOf(r, 0, 3)),
        replaceLabel: { from: 'ADDRESS_LINE', to: 'TIME', merchantId: 'wb-m' },
      },
      // A word that does not exist is not created.
      statusUpdate(wordIdOf(r, 0, 9)),
    ];
    commands.clear();
    assert.equal(await s.receipts.applyLabelUpdates('run-2', updates), 2);
    assert.deepEqual(commands.sent, ['TransactWriteItems', 'TransactWriteItems']);
    assert.equal((await wordOf(s, r, 0))!.reviewedByRun, 'run-2');
    assert.equal((await wordOf(s, r, 1))!.reviewedByRun, undefined);
    assert.equal((await wordOf(s, r, 2))!.label, 'ADDRESS_LINE');
    assert.equal((await wordOf(s, r, 3))!.label, 'TIME');
    assert.equal(await wordOf(s, r, 9), undefined);

    commands.clear();
    assert.equal(await s.receipts.applyLabelUpdates('run-2', updates), 0);
    assert.deepEqual(
      commands.sent,
      ['TransactWriteItems'],
      'one cancelled transaction, nothing left to send',
    );
    assert.equal(
      ((await wordOf(s, r, 3))!.pastLabels as unknown[]).length,
      1,
      'the replacement is not repeated',
    );
  });

  test('more than 100 updates go in chunks of 100; a word named twice goes in a later chunk', async () => {
    const r = `wb-${uniqueId()}`;
    await s.receipts.putReceipts([receiptOf(r, 230)]);
    const updates = Array.from({ length: 230 }, (_, i) => statusUpdate(wordIdOf(r, 0, i)));
    commands.clear();
    assert.equal(
      await s.receipts.applyLabelUpdates('run-3', [...updates, statusUpdate(wordIdOf(r, 0, 7))]),
      230,
    );
    // 230 distinct words in 3 transactions, the repeated word in a 4th (its condition then fails).
    assert.equal(commands.count('TransactWriteItems'), 4, JSON.stringify(commands.sent));
    assert.equal(commands.count('UpdateItem'), 0);
    assert.equal((await wordOf(s, r, 229))!.reviewedByRun, 'run-3');
  });

  test('a conflict is retried as a transaction; a reason a retry cannot cure falls back to one by one', async () => {
    const r = `wb-${uniqueId()}`;
    await s.receipts.putReceipts([receiptOf(r, 6)]);
    const updates = [0, 1, 2, 3, 4, 5].map((i) => statusUpdate(wordIdOf(r, 0, i)));
    cancelNextTransaction(s.ddb, 'TransactionConflict');
    commands.clear();
    assert.equal(await s.receipts.applyLabelUpdates('run-5', updates.slice(0, 3)), 3);
    assert.equal(commands.count('TransactWriteItems'), 2, JSON.stringify(commands.sent));
    assert.equal(commands.count('UpdateItem'), 0);

    cancelNextTransaction(s.ddb, 'ValidationError');
    commands.clear();
    assert.equal(await s.receipts.applyLabelUpdates('run-5', updates.slice(3)), 3);
    assert.equal(commands.count('TransactWriteItems'), 1, JSON.stringify(commands.sent));
    assert.equal(commands.count('UpdateItem'), 3);
    assert.equal((await wordOf(s, r, 5))!.reviewedByRun, 'run-5');
  });
});

describe('label write-back without transactions (a plain dynalite)', { timeout: 120_000 }, () => {
  let server: http.Server;
  let s: Stores;
  let commands: ReturnType<typeof recordCommands>;
  before(async () => {
    const dynalite = createRequire(__filename)('dynalite') as (o: object) => http.Server;
    server = dynalite({ createTableMs: 0 });
    await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
    const port = (server.address() as AddressInfo).port;
    s = await storesOn({ DYNAMODB_PORT: String(port), DYNAMODB_ENDPOINT: undefined });
    commands = recordCommands(s.ddb);
  });
  after(async () => {
    s?.ddb.destroy();
    await new Promise((res) => server?.close(res));
  });

  test('falls back to conditional updates one by one, and remembers it', async () => {
    const r = `wb-${uniqueId()}`;
    await s.receipts.putReceipts([receiptOf(r, 4)]);
    const updates = [0, 1, 2].map((i) => statusUpdate(wordIdOf(r, 0, i)));
    updates.push({
      ...statusUpdate(wordIdOf(r, 0, 3)),
      replaceLabel: { from: 'DATE', to: 'TIME', merchantId: 'wb-m' },
    });
    commands.clear();
    assert.equal(await s.receipts.applyLabelUpdates('run-4', updates), 3);
    assert.equal(commands.count('TransactWriteItems'), 1);
    assert.equal(commands.count('UpdateItem'), 4);
    assert.equal((await wordOf(s, r, 2))!.reviewedByRun, 'run-4');

    commands.clear();
    assert.equal(await s.receipts.applyLabelUpdates('run-4', updates), 0);
    assert.deepEqual(commands.sent, ['UpdateItem', 'UpdateItem', 'UpdateItem', 'UpdateItem']);
  });
});
