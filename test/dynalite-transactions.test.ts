// The dev stack's TransactWriteItems on dynalite (dev/stack/dynalite-transactions.ts), through the AWS
// SDK: Update, Put, Delete and ConditionCheck applied together or not at all, cancellation reasons
// per entry as DynamoDB gives them, one item named twice refused, other operations untouched.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { dynaliteWithTransactions } from '../dev/stack/dynalite-transactions';

const TABLE = 'tx-test';
type Entry = NonNullable<ConstructorParameters<typeof TransactWriteCommand>[0]['TransactItems']>[number];

describe('dynalite TransactWriteItems', () => {
  let server: http.Server;
  let doc: DynamoDBDocumentClient;
  const get = async (SK: string) =>
    (await doc.send(new GetCommand({ TableName: TABLE, Key: { PK: 'p', SK }, ConsistentRead: true }))).Item;
  const transact = (TransactItems: Entry[]) => doc.send(new TransactWriteCommand({ TransactItems }));
  const bump = (SK: string, expected: number): Entry => ({
    Update: {
      TableName: TABLE,
      Key: { PK: 'p', SK },
      UpdateExpression: 'SET v = v + :one',
      ConditionExpression: 'v = :expected',
      ExpressionAttributeValues: { ':one': 1, ':expected': expected },
    },
  });

  before(async () => {
    const dynalite = createRequire(__filename)('dynalite') as (o: object) => http.Server;
    server = dynaliteWithTransactions(dynalite, { createTableMs: 0 });
    await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
    const raw = new DynamoDBClient({
      region: 'us-east-1',
      endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    });
    doc = DynamoDBDocumentClient.from(raw);
    await raw.send(
      new CreateTableCommand({
        TableName: TABLE,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [
          { AttributeName: 'PK', AttributeType: 'S' },
          { AttributeName: 'SK', AttributeType: 'S' },
        ],
        KeySchema: [
          { AttributeName: 'PK', KeyType: 'HASH' },
          { AttributeName: 'SK', KeyType: 'RANGE' },
        ],
      }),
    );
    for (const SK of ['a', 'b', 'gone'])
      await doc.send(new PutCommand({ TableName: TABLE, Item: { PK: 'p', SK, v: 0 } }));
  });
  after(async () => {
    doc?.destroy();
    await new Promise((res) => server?.close(res));
  });

  test('every kind of entry applies together when every condition holds', async () => {
    await transact([
      bump('a', 0),
      {
        Put: {
          TableName: TABLE,
          Item: { PK: 'p', SK: 'new', v: 7 },
          ConditionExpression: 'attribute_not_exists(PK)',
        },
      },
      { Delete: { TableName: TABLE, Key: { PK: 'p', SK: 'gone' } } },
      {
        ConditionCheck: {
          TableName: TABLE,
          Key: { PK: 'p', SK: 'b' },
          ConditionExpression: 'v = :zero',
          ExpressionAttributeValues: { ':zero': 0 },
        },
      },
    ]);
    assert.equal((await get('a'))!.v, 1);
    assert.equal((await get('new'))!.v, 7);
    assert.equal(await get('gone'), undefined);
    assert.equal((await get('b'))!.v, 0, 'a condition check writes nothing');
  });

  test('one failed condition cancels all, with a reason per entry', async () => {
    const err = await transact([bump('a', 1), bump('b', 5), bump('new', 7)]).then(
      () => assert.fail('the transaction should be cancelled'),
      (e: unknown) => e as Error & { CancellationReasons?: Array<{ Code?: string; Message?: string }> },
    );
    assert.equal(err.name, 'TransactionCanceledException');
    assert.match(err.message, /\[None, ConditionalCheckFailed, None\]/);
    assert.deepEqual(err.CancellationReasons, [
      { Code: 'None' },
      { Code: 'ConditionalCheckFailed', Message: 'The conditional request failed' },
      { Code: 'None' },
    ]);
    assert.equal((await get('a'))!.v, 1, 'nothing applied');
    assert.equal((await get('new'))!.v, 7);
  });

  test('an item named twice or a bad expression is refused before anything is applied', async () => {
    await assert.rejects(transact([bump('a', 1), bump('a', 1)]), {
      name: 'ValidationException',
      message: /multiple operations on one item/,
    });
    await assert.rejects(
      transact([
        bump('a', 1),
        { Update: { TableName: TABLE, Key: { PK: 'p', SK: 'b' }, UpdateExpression: 'SET v = :x' } },
      ]),
      { name: 'ValidationException' },
    );
    assert.equal((await get('a'))!.v, 1);
  });

  test("concurrent single-item writes land before or after a transaction, and dynalite's own operations still work", async () => {
    // Twenty transactions and twenty plain increments of the same item, all at once: every increment
    // counts, and each transaction's condition sees a value no plain write changes under it.
    const plain = Array.from({ length: 20 }, () =>
      doc.send(
        new UpdateCommand({
          TableName: TABLE,
          Key: { PK: 'p', SK: 'b' },
          UpdateExpression: 'SET v = v + :one',
          ExpressionAttributeValues: { ':one': 1 },
        }),
      ),
    );
    const txs = Array.from({ length: 20 }, () =>
      transact([
        {
          Update: {
            TableName: TABLE,
            Key: { PK: 'p', SK: 'b' },
            UpdateExpression: 'SET v = v + :one, t = if_not_exists(t, :zero) + :one',
            ExpressionAttributeValues: { ':one': 1, ':zero': 0 },
          },
        },
      ]),
    );
    await Promise.all([...plain, ...txs]);
    const b = await get('b');
    assert.equal(b!.v, 40);
    assert.equal(b!.t, 20);
  });
});
