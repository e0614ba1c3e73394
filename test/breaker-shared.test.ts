// The provider breaker shared by `llm` processes (llm/breaker.ts with the run store): a run's breaker
// opened by one process stops that run's calls in every other one. First two breakers that share
// only DynamoDB (as two processes do); then two real `llm` worker processes under one permit, where
// a 401 seen by one means no later call of the run, in either process, reaches the provider.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { WorkflowFailedError } from '@temporalio/client';
import { writePlaces } from '../dev/seed';
import { createStores } from '../src/deps';
import { generatePlaces } from '../dev/generator/places';
import { ProviderBreaker } from '../src/llm/breaker';
import { LlmCircuitOpenError, LlmProviderAuthError } from '../src/llm/errors';
import type { RunStore } from '../src/stores/runs';
import { startHarness, uniqueId, type Harness } from '../dev/harness/pipeline';
import { spawnWorker, type WorkerProcess } from '../dev/harness/worker-process';

const answer = () => Promise.resolve('answer');

describe('provider breaker shared through DynamoDB', () => {
  let h: Harness;
  let runs: RunStore;
  before(async () => {
    h = await startHarness({ queues: [] });
    runs = createStores(h.cfg).runs;
  });
  after(async () => h?.close());

  test("a 401 in one process's breaker refuses the run's next call in another, before it is sent", async () => {
    const runId = uniqueId('brk-');
    const first = new ProviderBreaker({ shared: runs });
    // A clock that stands still: `second`'s read of "closed" stays cached for the whole test.
    const second = new ProviderBreaker({ shared: runs, sharedCacheMs: 1000, now: () => 0 });
    assert.equal(await second.call(runId, undefined, answer), 'answer', 'closed: the call runs');
    const refused = first.call(runId, undefined, (_signal, hooks) =>
      hooks.onFailure(new LlmProviderAuthError(401, 'bad key')).then(() => {
        throw new LlmProviderAuthError(401, 'bad key');
      }),
    );
    await assert.rejects(refused, { name: 'LlmProviderAuthError' });
    const opened = await runs.readBreaker(runId);
    assert.equal(opened?.openedBy, 'LlmProviderAuth');
    assert.match(opened?.reason ?? '', /HTTP 401\): bad key/);

    // `second` read "closed" a moment ago (cached), but a call holding its permit reads afresh.
    let sent = 0;
    const call = second.call(runId, undefined, async (_signal, hooks) => {
      await hooks.beforeSend();
      sent++;
      return 'answer';
    });
    await assert.rejects(
      call,
      (err: unknown) => err instanceof LlmCircuitOpenError && /bad key/.test(err.message),
    );
    assert.equal(sent, 0, 'nothing sent');
    assert.equal(second.openReason(runId)?.openedBy, 'LlmProviderAuth');
    // A third process that never called before refuses at once (its first read), without the hook.
    const third = new ProviderBreaker({ shared: runs });
    await assert.rejects(
      third.call(runId, undefined, answer),
      (err: unknown) => err instanceof LlmCircuitOpenError,
    );
    // Another run is not affected, and a second opening does not replace the first reason.
    assert.equal(await third.call(`${runId}-other`, undefined, answer), 'answer');
    assert.equal(await runs.openBreaker(runId, { openedBy: 'LlmFatal', reason: 'later' }), false);
    assert.match((await runs.readBreaker(runId))?.reason ?? '', /bad key/);
  });

  test('the cached read is used until it is sharedCacheMs old', async () => {
    const runId = uniqueId('brk-');
    let t = 0;
    const reader = new ProviderBreaker({ shared: runs, sharedCacheMs: 1000, now: () => t });
    assert.equal(await reader.call(runId, undefined, answer), 'answer');
    await runs.openBreaker(runId, { openedBy: 'LlmProviderAuth', reason: 'revoked' });
    t = 999;
    assert.equal(await reader.call(runId, undefined, answer), 'answer', 'within the cache: not read again');
    t = 1000;
    await assert.rejects(
      reader.call(runId, undefined, answer),
      (err: unknown) => err instanceof LlmCircuitOpenError,
    );
  });

  test('a permit handed on in this process goes by the cached read; one from the semaphore reads afresh', async () => {
    const runId = uniqueId('brk-');
    let t = 0;
    const reader = new ProviderBreaker({ shared: runs, sharedCacheMs: 1000, now: () => t });
    let sent = 0;
    const sendWith = (handoffs: number) =>
      reader.call(runId, undefined, async (_signal, hooks) => {
        await hooks.beforeSend({ handoffs });
        sent++;
        return 'answer';
      });
    assert.equal(await sendWith(0), 'answer', 'closed: sent');
    await runs.openBreaker(runId, { openedBy: 'LlmProviderAuth', reason: 'revoked' });
    t = 500;
    assert.equal(await sendWith(3), 'answer', 'handed on within the cache age: sent without a read');
    assert.equal(sent, 2);
    await assert.rejects(sendWith(0), (err: unknown) => err instanceof LlmCircuitOpenError);
    assert.equal(sent, 2, 'from the semaphore: read afresh, nothing sent');
  });
});

describe('provider breaker across two llm worker processes', { timeout: 180_000 }, () => {
  let h: Harness;
  const workers: WorkerProcess[] = [];
  before(async () => {
    // One permit for both processes: every request holds it, so "after the breaker opened" is exact.
    h = await startHarness({
      queues: ['pipeline'],
      emulator: { faultStatus: 401, faultRate: 1, latencyMs: 300 },
      env: { LLM_MAX_CONCURRENT_CALLS: '1', LLM_WORKER_WAITING_CALLS: '4' },
    });
    await writePlaces(h.cfg, generatePlaces({ count: 30, seed: 17 }));
    workers.push(spawnWorker(h.env, ['llm']), spawnWorker(h.env, ['llm']));
    await Promise.all(workers.map((w) => w.ready));
  });
  after(async () => {
    for (const w of workers) w.kill('SIGTERM');
    await Promise.all(workers.map((w) => w.exited));
    await h?.close();
  });

  test('a 401 seen by one process: no later call of the run, in either process, reaches the provider', async () => {
    const runId = uniqueId('enrich-');
    const handle = await h.client.workflow.start('enrichPlaces', {
      taskQueue: h.cfg.TASK_QUEUE_PIPELINE,
      workflowId: runId,
      args: [{ runId, llmTaskQueue: h.cfg.TASK_QUEUE_LLM, batchSize: 3, batchesInFlight: 10, noCache: true }],
    });
    await assert.rejects(handle.result(), (err: unknown) => err instanceof WorkflowFailedError);
    const run = await createStores(h.cfg).runs.getRun(runId);
    assert.equal(run?.status, 'FAILED');
    assert.match(String(run?.report?.reason), /HTTP 401/);
    // The first request was refused with 401; every call after it, waiting in either process for
    // the one permit, found the breaker open before sending.
    assert.equal(h.emulator.metrics().requests, 1, 'one provider request');
    assert.equal((await createStores(h.cfg).runs.readBreaker(runId))?.openedBy, 'LlmProviderAuth');
  });
});
