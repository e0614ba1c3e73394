// One DynamoDB read and one write per LLM call (llm/call-bookkeeping.ts), on dynalite: the ledger and
// cache entries read in one BatchGetItem (the ledger's answer still wins), the paid answer, its cache
// entry and its call record written in one BatchWriteItem, and what DynamoDB leaves unprocessed
// retried, so a retry of the call still does not pay twice.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createStores } from '../src/deps';
import { AnswerLedger } from '../src/llm/answer-ledger';
import { LlmCache } from '../src/llm/cache';
import { GlobalLimiter } from '../src/llm/limiter';
import { structuredCacheKey } from '../src/llm/llm-client';
import { createDynamoClient } from '../src/stores/clients';
import { answerJsonSchema, askNumber, llmClient, startLlmStack, type LlmStack } from './helpers/llm-client';
import { uniqueId } from '../dev/harness/pipeline';

type Item = Record<string, unknown>;
type Requests = Record<string, Array<{ Item?: Item } | Item>>;

/** The commands a client sends, each with the sort keys it names (gets: keys; writes: items). */
function recordCommands(ddb: DynamoDBDocumentClient) {
  const sent: Array<{ command: string; keys: string[] }> = [];
  ddb.middlewareStack.add(
    (next, context) => (args) => {
      const input = args.input as { Key?: Item; Item?: Item; RequestItems?: Record<string, unknown> };
      const batch = Object.values(input.RequestItems ?? {}).flatMap((t) => {
        const v = t as { Keys?: Item[] } | Array<{ PutRequest: { Item: Item } }>;
        return Array.isArray(v) ? v.map((r) => r.PutRequest.Item) : (v.Keys ?? []);
      });
      const keys = [input.Key, input.Item, ...batch].filter((k): k is Item => !!k).map((k) => String(k.SK));
      sent.push({ command: String(context.commandName).replace(/Command$/, ''), keys });
      return next(args);
    },
    { step: 'initialize', name: `record${uniqueId()}` },
  );
  const count = (command: string) => sent.filter((s) => s.command === command).length;
  return { sent, count, clear: () => sent.splice(0) };
}

/**
 * The first batch of `command` comes back with the entries `held` picks unprocessed (not sent), as
 * DynamoDB does under throttling; the later ones go through.
 */
function leaveUnprocessedOnce(
  ddb: DynamoDBDocumentClient,
  command: 'BatchWriteItemCommand' | 'BatchGetItemCommand',
  held: (key: Item) => boolean,
) {
  let done = false;
  ddb.middlewareStack.add(
    (next, context) => async (args) => {
      if (done || context.commandName !== command) return next(args);
      done = true;
      const input = args.input as { RequestItems: Record<string, unknown> };
      const [table, requests] = Object.entries(input.RequestItems)[0]!;
      const split = (list: Array<{ PutRequest: { Item: Item } }> | Item[]) => ({
        kept: list.filter((r) => !held('PutRequest' in r ? (r.PutRequest as { Item: Item }).Item : r)),
        left: list.filter((r) => held('PutRequest' in r ? (r.PutRequest as { Item: Item }).Item : r)),
      });
      if (command === 'BatchWriteItemCommand') {
        const { kept, left } = split(requests as Array<{ PutRequest: { Item: Item } }>);
        const out = await next({ ...args, input: { ...input, RequestItems: { [table]: kept } } });
        (out.output as { UnprocessedItems?: Requests }).UnprocessedItems = { [table]: left };
        return out;
      }
      const get = requests as { Keys: Item[]; ConsistentRead?: boolean };
      const { kept, left } = split(get.Keys);
      const out = await next({
        ...args,
        input: { ...input, RequestItems: { [table]: { ...get, Keys: kept } } },
      });
      (out.output as { UnprocessedKeys?: Record<string, unknown> }).UnprocessedKeys = {
        [table]: { ...get, Keys: left },
      };
      return out;
    },
    { step: 'initialize', name: `unprocessed${uniqueId()}` },
  );
}

describe('LLM call bookkeeping: one read and one write a call', () => {
  let s: LlmStack;
  const requests = () => s.emulator.metrics().requests;

  /** A client whose own DynamoDB requests are recorded (the limiter has another client). */
  function recordedClient() {
    const ddb = createDynamoClient(s.cfg);
    const limiter = new GlobalLimiter(createDynamoClient(s.cfg), s.cfg.DYNAMODB_TABLE, {
      name: `bookkeeping-${uniqueId()}`,
      cap: s.cfg.LLM_MAX_CONCURRENT_CALLS,
      leaseMs: 10_000,
    });
    const { llm } = llmClient(s.cfg, { ddb, limiter });
    return { llm, ddb, commands: recordCommands(ddb) };
  }

  function attempts(runId: string) {
    const answerId = `wf/${uniqueId()}/3`;
    return (n: number) => ({ runId, callId: `${answerId}#${n}`, answerId });
  }

  const cacheKeyOf = (prompt: string) =>
    structuredCacheKey(
      'ollama',
      s.cfg.llmModel,
      [{ role: 'user', content: prompt }],
      answerJsonSchema as Record<string, unknown>,
    );

  before(async () => {
    s = await startLlmStack();
  });
  after(async () => s?.close());

  test('a paid call keeps its ledger entry, cache entry and call record in one BatchWriteItem', async () => {
    const { llm, ddb, commands } = recordedClient();
    const runId = uniqueId('run-');
    const attempt = attempts(runId);
    const prompt = `A number for ${uniqueId()}.`;
    const paid = await askNumber(llm, attempt(1), { prompt });
    assert.equal(paid.record.status, 'ok');
    assert.equal(commands.count('BatchWriteItem'), 1, JSON.stringify(commands.sent));
    assert.equal(commands.count('PutItem'), 0, JSON.stringify(commands.sent));
    const written = commands.sent.find((c) => c.command === 'BatchWriteItem')!.keys;
    assert.deepEqual(
      written.map((k) => k.replace(/#.*/, '#')),
      ['ANSWER#', 'ANSWER', 'CALL#'],
      'ledger entry, cache entry, call record',
    );
    // The read before it: ledger and cache in one BatchGetItem.
    assert.equal(commands.count('BatchGetItem'), 1);
    assert.equal(commands.count('GetItem'), 0);

    const ledger = new AnswerLedger(ddb, s.cfg.DYNAMODB_TABLE);
    const kept = await ledger.get(runId, attempt(1).answerId, cacheKeyOf(prompt));
    assert.equal(kept?.paidByCallId, attempt(1).callId);
    assert.deepEqual(JSON.parse(kept?.content ?? 'null'), paid.value);
    const cached = await new LlmCache(ddb, s.cfg.DYNAMODB_TABLE, 3600).get(cacheKeyOf(prompt));
    assert.deepEqual(JSON.parse(cached?.content ?? 'null'), paid.value);
    const records = await createStores(s.cfg).runs.listCalls(runId);
    assert.deepEqual(
      records.map((r) => [r.callId, r.status, r.providerRequests]),
      [[attempt(1).callId, 'ok', 1]],
    );
  });

  test("a retry reads ledger and cache in one BatchGetItem, and the ledger's answer wins over the cache's", async () => {
    const { llm, ddb, commands } = recordedClient();
    const runId = uniqueId('run-');
    const attempt = attempts(runId);
    const prompt = `A number for ${uniqueId()}.`;
    const before = requests();
    const paid = await askNumber(llm, attempt(1), { prompt });
    // Another call refreshed the cache with another answer since.
    await new LlmCache(ddb, s.cfg.DYNAMODB_TABLE, 3600).put(cacheKeyOf(prompt), {
      content: JSON.stringify({ answer: -7 }),
      promptTokens: 1,
      completionTokens: 1,
      model: 'other',
    });
    assert.notDeepEqual(paid.value, { answer: -7 });
    commands.clear();
    const retry = await askNumber(llm, attempt(2), { prompt });
    assert.deepEqual(retry.value, paid.value, 'the answer this logical call paid for');
    assert.equal(retry.record.replayed, true);
    assert.equal(requests(), before + 1, 'the retry did not pay');
    assert.equal(commands.count('BatchGetItem'), 1);
    const singleReads = commands.sent.filter((c) => c.command === 'GetItem').flatMap((c) => c.keys);
    assert.ok(
      singleReads.every((k) => k.startsWith('CALL#')),
      `no separate ledger or cache read: ${JSON.stringify(singleReads)}`,
    );
    // A new logical call with the same prompt is served from that same batch's cache entry.
    commands.clear();
    const other = await askNumber(llm, { runId, callId: 'other#1', answerId: 'other' }, { prompt });
    assert.deepEqual(other.value, { answer: -7 });
    assert.equal(other.record.status, 'cache_hit');
    assert.equal(other.record.replayed, undefined);
    assert.equal(requests(), before + 1);
    assert.deepEqual(
      commands.sent.map((c) => c.command),
      ['BatchGetItem', 'PutItem'],
      'one read, then its cache_hit record',
    );
  });

  test('embeddings: the ledger entry, the vectors and the call record in one BatchWriteItem; the retry reads them in one BatchGetItem', async () => {
    const { llm, commands } = recordedClient();
    const runId = uniqueId('run-');
    const attempt = attempts(runId);
    const texts = [`total ${uniqueId()}`, `tax ${uniqueId()}`];
    const before = requests();
    const paid = await llm.embed({ ...attempt(1), texts });
    assert.deepEqual(
      commands.sent.map((c) => [c.command, c.keys.map((k) => k.replace(/#.*/, '#'))]),
      [
        ['BatchGetItem', ['ANSWER#', 'VECTOR', 'VECTOR']],
        ['BatchWriteItem', ['ANSWER#', 'VECTOR', 'VECTOR', 'CALL#']],
      ],
    );
    commands.clear();
    const again = await llm.embed({ ...attempt(2), texts });
    assert.deepEqual(again, paid, 'the very vectors paid for');
    assert.equal(requests(), before + 1);
    assert.equal(commands.count('BatchGetItem'), 1);
    // Another logical call: every text from the vectors that one read found.
    commands.clear();
    const cached = await llm.embed({ runId, callId: 'e2#1', answerId: 'e2', texts: [texts[1]!, texts[0]!] });
    assert.deepEqual(cached, [paid[1], paid[0]]);
    assert.equal(requests(), before + 1);
    assert.deepEqual(
      commands.sent.map((c) => c.command),
      ['BatchGetItem', 'PutItem'],
      'one read, then its cache_hit record',
    );
  });

  test('embeddings: an answer too large for one ledger item has its parts written first, in order, then the rest in one batch', async () => {
    const { llm, commands } = recordedClient();
    const runId = uniqueId('run-');
    const attempt = attempts(runId);
    // Enough vectors that the ledger splits the answer (300 KB a part; 256 float64 a vector: 3 parts).
    const texts = Array.from({ length: 320 }, (_, i) => `line ${i} ${uniqueId()}`);
    const before = requests();
    const paid = await llm.embed({ ...attempt(1), texts, noCache: true });
    const puts = commands.sent.filter((c) => c.command === 'PutItem').map((c) => c.keys[0]!);
    assert.ok(puts.length >= 2, `the ledger's parts: ${JSON.stringify(puts)}`);
    assert.ok(puts.every((k) => k.startsWith('ANSWER#')));
    assert.ok(!/#\d{3}$/.test(puts.at(-1)!), 'the first part last');
    const batched = commands.sent.filter((c) => c.command === 'BatchWriteItem').flatMap((c) => c.keys);
    assert.ok(!batched.some((k) => k.startsWith('ANSWER#')), 'no ledger part in the batch');
    assert.equal(batched.filter((k) => k.startsWith('CALL#')).length, 1);
    const again = await llm.embed({ ...attempt(2), texts, noCache: true });
    assert.deepEqual(again, paid);
    assert.equal(requests(), before + 1, 'the retry did not pay again');
  });

  test('a ledger entry DynamoDB leaves unprocessed is written on the retry of the batch: the call is paid once', async () => {
    const { llm, ddb, commands } = recordedClient();
    leaveUnprocessedOnce(ddb, 'BatchWriteItemCommand', (item) => String(item.SK).startsWith('ANSWER#'));
    const runId = uniqueId('run-');
    const attempt = attempts(runId);
    const before = requests();
    const paid = await askNumber(llm, attempt(1), { noCache: true });
    assert.equal(paid.record.status, 'ok');
    const writes = commands.sent.filter((c) => c.command === 'BatchWriteItem');
    assert.equal(writes.length, 2, JSON.stringify(commands.sent));
    assert.equal(writes[1]!.keys.length, 1, 'the second batch carries only the unprocessed entry');
    assert.match(writes[1]!.keys[0]!, /^ANSWER#/);
    const retry = await askNumber(llm, attempt(2), { noCache: true });
    assert.equal(requests(), before + 1, 'the retry did not pay again');
    assert.deepEqual(retry.value, paid.value);
    assert.equal(retry.record.replayed, true);
  });

  test('a ledger key DynamoDB leaves unprocessed in the read is read again: the retry does not pay', async () => {
    const { llm, ddb, commands } = recordedClient();
    const runId = uniqueId('run-');
    const attempt = attempts(runId);
    const prompt = `A number for ${uniqueId()}.`;
    const before = requests();
    const paid = await askNumber(llm, attempt(1), { prompt });
    leaveUnprocessedOnce(ddb, 'BatchGetItemCommand', (key) => String(key.SK).startsWith('ANSWER#'));
    commands.clear();
    const retry = await askNumber(llm, attempt(2), { prompt });
    assert.equal(commands.count('BatchGetItem'), 2, JSON.stringify(commands.sent));
    assert.equal(retry.record.replayed, true, 'answered from the ledger, not the cache');
    assert.deepEqual(retry.value, paid.value);
    assert.equal(requests(), before + 1);
  });
});
