// Nothing paid twice: an answer paid for by one attempt of a logical call is reused by every later
// attempt of it (cache off, cache write failed, bookkeeping after the answer failed), for chat and
// embedding calls. Real LlmClient on dynalite against the emulator; provider requests are counted
// by the emulator.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import type { EvaluationReport } from '../src/activities/evaluate';
import { summarizeCalls, type CallRecord } from '../src/llm/accounting';
import { AnswerLedger } from '../src/llm/answer-ledger';
import { LlmCache } from '../src/llm/cache';
import { structuredCacheKey } from '../src/llm/llm-client';
import { GlobalLimiter } from '../src/llm/limiter';
import { createStores } from '../src/deps';
import { createDynamoClient } from '../src/stores/clients';
import {
  answerJsonSchema,
  askNumber,
  injectDynamoFault,
  llmClient,
  startLlmStack,
  type LlmStack,
} from './helpers/llm-client';
import { killWorker, spawnLlmWorker, type LlmWorkerProcess } from '../dev/harness/llm-layer';
import { startHarness, uniqueId, type Harness } from '../dev/harness/pipeline';

/**
 * A cache whose writes fail (DynamoDB refusing them), reads working: its entry is too large for an
 * item, so the one write that carries it with the ledger entry and the call record is refused whole.
 */
class CacheThatCannotWrite extends LlmCache {
  override itemOf(...args: Parameters<LlmCache['itemOf']>): Record<string, unknown> | undefined {
    return { ...super.itemOf(...args), padding: 'x'.repeat(410_000) };
  }
  override put(): Promise<void> {
    return Promise.reject(new Error('injected: cache write failed'));
  }
  override vectorItemsOf(...args: Parameters<LlmCache['vectorItemsOf']>): Record<string, unknown>[] {
    return super.vectorItemsOf(...args).map((item) => ({ ...item, padding: 'x'.repeat(410_000) }));
  }
  override putVectors(): Promise<void> {
    return Promise.reject(new Error('injected: cache write failed'));
  }
}

/** Two attempts of one logical call: the same answerId, a callId per attempt. */
function attempts(runId: string) {
  const answerId = `wf/${uniqueId()}/7`;
  return (n: number) => ({ runId, callId: `${answerId}#${n}`, answerId });
}

describe('the answer ledger: one payment per logical call', () => {
  let s: LlmStack;
  const requests = () => s.emulator.metrics().requests;
  const calls = (runId: string) => createStores(s.cfg).runs.listCalls(runId);

  before(async () => {
    s = await startLlmStack();
  });
  after(async () => s?.close());

  test('noCache (--no-cache): the second attempt of a paid call makes no provider request', async () => {
    const { llm } = llmClient(s.cfg);
    const runId = uniqueId('run-');
    const attempt = attempts(runId);
    const before = requests();
    const first = await askNumber(llm, attempt(1), { noCache: true });
    assert.equal(requests(), before + 1);
    const second = await askNumber(llm, attempt(2), { noCache: true });
    assert.equal(requests(), before + 1, 'the retry did not pay again');
    assert.deepEqual(second.value, first.value);
    assert.equal(second.record.status, 'cache_hit');
    assert.equal(second.record.replayed, true);
    assert.equal(second.record.providerRequests, 0);
    // Another logical call with the same prompt and noCache is a new call: it pays.
    await askNumber(llm, { runId, callId: 'other#1', answerId: 'other' }, { noCache: true });
    assert.equal(requests(), before + 2);
    const stats = summarizeCalls(await calls(runId));
    assert.deepEqual([stats.calls, stats.cacheHits, stats.providerRequests], [2, 1, 2]);
  });

  test('the cache write failed: the answer is still reused by the retry', async () => {
    const ddb = createDynamoClient(s.cfg);
    const { llm } = llmClient(s.cfg, { cache: new CacheThatCannotWrite(ddb, s.cfg.DYNAMODB_TABLE, 3600) });
    const prompt = `A number for ${uniqueId()}.`; // never cached before
    const before = requests();
    const runId = uniqueId('run-');
    const attempt = attempts(runId);
    const first = await askNumber(llm, attempt(1), { prompt });
    assert.equal(first.record.status, 'ok', 'a failed cache write does not fail a paid call');
    assert.deepEqual(
      (await calls(runId)).map((r) => [r.callId, r.status]),
      [[attempt(1).callId, 'ok']],
      'its call record is written all the same',
    );
    const key = structuredCacheKey(
      'ollama',
      s.cfg.llmModel,
      [{ role: 'user', content: prompt }],
      answerJsonSchema as Record<string, unknown>,
    );
    assert.equal(await new LlmCache(ddb, s.cfg.DYNAMODB_TABLE, 3600).get(key), undefined, 'no cache entry');
    const second = await askNumber(llm, attempt(2), { prompt });
    assert.equal(requests(), before + 1);
    assert.equal(second.record.replayed, true);
  });

  test('the bookkeeping after a paid answer fails (permit release, call record): the attempt succeeds, its retry does not pay, and the paid record is recovered', async () => {
    const runId = uniqueId('run-');
    const ddb = createDynamoClient(s.cfg);
    let failing = true;
    // The client's writes fail (call records, cache); the ledger and the limiter have their own.
    injectDynamoFault(
      ddb,
      (command) => !command.startsWith('Get'),
      () => failing,
    );
    class LimiterThatCannotRelease extends GlobalLimiter {
      override release(): Promise<void> {
        return failing ? Promise.reject(new Error('injected: release failed')) : Promise.resolve();
      }
    }
    const limiter = new LimiterThatCannotRelease(createDynamoClient(s.cfg), s.cfg.DYNAMODB_TABLE, {
      name: `bookkeeping-${uniqueId()}`,
      cap: s.cfg.LLM_MAX_CONCURRENT_CALLS,
      leaseMs: 10_000,
    });
    const { llm } = llmClient(s.cfg, {
      ddb,
      limiter,
      ledger: new AnswerLedger(createDynamoClient(s.cfg), s.cfg.DYNAMODB_TABLE),
    });
    const attempt = attempts(runId);
    const before = requests();
    const first = await askNumber(llm, attempt(1), { noCache: true });
    assert.equal(first.record.status, 'ok');
    assert.equal((await calls(runId)).length, 0, 'its call record was not written');
    failing = false;
    const second = await askNumber(llm, attempt(2), { noCache: true });
    assert.equal(requests(), before + 1, 'the retry did not pay again');
    assert.deepEqual(second.value, first.value);
    const records = await calls(runId);
    const byId = new Map<string, CallRecord>(records.map((r) => [r.callId, r]));
    assert.equal(byId.get(attempt(1).callId)?.status, 'ok', 'the paying attempt is accounted');
    assert.equal(byId.get(attempt(1).callId)?.providerRequests, 1);
    assert.equal(byId.get(attempt(2).callId)?.replayed, true);
    const stats = summarizeCalls(records);
    assert.deepEqual([stats.calls, stats.providerRequests], [1, 1]);
    assert.equal(stats.promptTokens, first.record.promptTokens);
  });

  test('embeddings: a retry reuses the paid vectors (cache off), and other calls reuse them per text from the cache', async () => {
    const { llm } = llmClient(s.cfg);
    const runId = uniqueId('run-');
    const attempt = attempts(runId);
    const texts = [`total ${uniqueId()}`, `tax ${uniqueId()}`];
    const before = requests();
    const paid = await llm.embed({ ...attempt(1), texts, noCache: true });
    assert.equal(requests(), before + 1);
    assert.equal(paid.length, 2);
    const again = await llm.embed({ ...attempt(2), texts, noCache: true });
    assert.equal(requests(), before + 1, 'the retry did not pay again');
    assert.deepEqual(again, paid, 'the very vectors paid for');
    // Another logical call, cache on: every text is cached, no request.
    const cached = await llm.embed({ runId, callId: 'e2#1', answerId: 'e2', texts: [texts[1]!, texts[0]!] });
    assert.equal(requests(), before + 1);
    assert.deepEqual(cached, [paid[1], paid[0]]);
    // One new text among cached ones: one request, the cached vectors unchanged.
    const fresh = `subtotal ${uniqueId()}`;
    const mixed = await llm.embed({ runId, callId: 'e3#1', answerId: 'e3', texts: [texts[0]!, fresh] });
    assert.equal(requests(), before + 2);
    assert.deepEqual(mixed[0], paid[0]);
    assert.equal(mixed[1]?.length, paid[0]!.length);
    const replayed = (await calls(runId)).filter((r) => r.replayed);
    assert.deepEqual(
      replayed.map((r) => r.task),
      ['embed'],
    );
  });

  test('embeddings: a failed cache write still leaves the vectors reusable by the retry', async () => {
    const ddb = createDynamoClient(s.cfg);
    const { llm } = llmClient(s.cfg, { cache: new CacheThatCannotWrite(ddb, s.cfg.DYNAMODB_TABLE, 3600) });
    const runId = uniqueId('run-');
    const attempt = attempts(runId);
    const texts = [`line ${uniqueId()}`];
    const before = requests();
    const paid = await llm.embed({ ...attempt(1), texts });
    const model = { provider: 'ollama', model: s.cfg.embeddingModel };
    const cache = new LlmCache(ddb, s.cfg.DYNAMODB_TABLE, 3600);
    assert.deepEqual(await cache.getVectors(model, texts), [undefined], 'no vector cached');
    assert.deepEqual(
      (await calls(runId)).map((r) => [r.callId, r.status]),
      [[attempt(1).callId, 'ok']],
      'its call record is written all the same',
    );
    const again = await llm.embed({ ...attempt(2), texts });
    assert.equal(requests(), before + 1);
    assert.deepEqual(again, paid);
  });
});

/** The worker of llm-worker-crash-after-answer.ts as a child process; resolves how it ended. */
function spawnCrashingWorker(env: Record<string, string>) {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
  delete childEnv.NODE_TEST_CONTEXT;
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', path.join(__dirname, '../dev/harness/llm-worker-crash-after-answer.ts')],
    { cwd: path.resolve(__dirname, '..'), env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  const exited = new Promise<NodeJS.Signals | number | null>((resolve) =>
    child.once('exit', (code, signal) => resolve(signal ?? code)),
  );
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (b: Buffer) => (out += b.toString()).includes('worker running:') && resolve());
    child.stderr.on('data', (b: Buffer) => (out += b.toString()));
    void exited.then((e) => reject(new Error(`crashing worker ended (${String(e)}) before ready:\n${out}`)));
  });
  ready.catch(() => undefined);
  return { child, ready, exited, kill: () => child.exitCode === null && child.kill('SIGKILL') };
}

describe('kill -9 of an llm worker between a provider answer and the activity completion, --no-cache', () => {
  let h: Harness;
  let crashing: ReturnType<typeof spawnCrashingWorker> | undefined;
  let survivor: LlmWorkerProcess | undefined;
  let ended: NodeJS.Signals | number | null | 'run finished first';
  let report: EvaluationReport;
  let records: CallRecord[];

  before(async () => {
    h = await startHarness({
      queues: ['pipeline'],
      emulator: { accuracy: 1, latencyMs: 50 },
      env: { LLM_MAX_CONCURRENT_CALLS: '2' },
      dataset: { merchants: 1, receiptsPerMerchant: 4, seed: 11 },
    });
    crashing = spawnCrashingWorker(h.env);
    await crashing.ready;
    const runId = uniqueId('paid-once-');
    const handle = await h.client.workflow.start('evaluateLabels', {
      taskQueue: h.cfg.TASK_QUEUE_PIPELINE,
      workflowId: runId,
      // One chunk a receipt: the activity makes one call, so none is in flight when the worker dies.
      args: [{ runId, llmTaskQueue: h.cfg.TASK_QUEUE_LLM, noCache: true, reviewChunkSize: 200 }],
    });
    const result = handle.result();
    ended = await Promise.race([crashing.exited, result.then(() => 'run finished first' as const)]);
    // The attempt it died in is retried (after the heartbeat timeout) on a worker that lives.
    survivor = spawnLlmWorker(h.env);
    await survivor.ready;
    report = (await result) as EvaluationReport;
    records = await createStores(h.cfg).runs.listCalls(runId);
  });
  after(async () => {
    crashing?.kill();
    await killWorker(survivor);
    await h?.close();
  });

  test('the worker died by SIGKILL after a paid answer, and the run still reviewed every receipt', () => {
    assert.equal(ended, 'SIGKILL');
    assert.equal(report.succeeded, 4, JSON.stringify(report.failures));
  });

  test('every logical call was paid once: the retry of the killed attempt made no provider request', () => {
    const byCall = new Map<string, CallRecord[]>();
    for (const r of records) {
      const logical = r.callId.replace(/#\d+$/, '');
      byCall.set(logical, [...(byCall.get(logical) ?? []), r]);
    }
    for (const [logical, attempts] of byCall)
      assert.equal(
        attempts.filter((a) => a.providerRequests > 0).length,
        1,
        `${logical}: ${JSON.stringify(attempts.map((a) => [a.callId, a.status, a.providerRequests]))}`,
      );
    const replayed = records.filter((r) => r.replayed);
    assert.equal(replayed.length, 1, 'the killed attempt was answered from the ledger on its retry');
    assert.match(replayed[0]!.callId, /#2$/);
    assert.equal(h.emulator.metrics().requests, summarizeCalls(records).providerRequests);
    assert.equal(h.emulator.metrics().requests, byCall.size);
  });
});
