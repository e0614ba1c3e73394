// End to end: a provider that refuses our credentials (401/403 from the emulator, both wire
// protocols' shapes) fails the run early, FAILED with the reason, and the provider sees no call
// after the breaker opened (at most the calls in flight then: the cap).
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { writePlaces } from '../dev/seed';
import { createStores } from '../src/deps';
import { generatePlaces } from '../dev/generator/places';
import { startHarness, uniqueId, type Harness } from '../dev/harness/pipeline';

const CAP = 4;

/** Runs a root workflow that must fail; returns its ApplicationFailure (the end of the cause chain). */
async function runToFailure(h: Harness, workflow: string, input: Record<string, unknown>) {
  const runId = uniqueId(`${workflow}-`);
  const started = Date.now();
  const err = await h.client.workflow
    .execute(workflow, {
      taskQueue: h.cfg.TASK_QUEUE_PIPELINE,
      workflowId: runId,
      args: [{ runId, llmTaskQueue: h.cfg.TASK_QUEUE_LLM, ...input }],
    })
    .then(
      () => assert.fail(`${workflow} completed; it should have failed`),
      (e: unknown) => e,
    );
  console.log(`${workflow} failed after ${Date.now() - started} ms`);
  assert.ok(err instanceof WorkflowFailedError, String(err));
  assert.ok(err.cause instanceof ApplicationFailure, String(err.cause));
  return { runId, failure: err.cause };
}

/** The emulator's request count holds still: nothing more reaches the provider. */
async function requestsSettle(h: Harness): Promise<number> {
  const before = h.emulator.metrics().requests;
  await new Promise((r) => setTimeout(r, 2_000));
  return h.emulator.metrics().requests - before;
}

describe('provider breaker: an evaluation refused with 401 stops', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({
      emulator: { faultStatus: 401, faultRate: 1 },
      env: { LLM_MAX_CONCURRENT_CALLS: String(CAP) },
      dataset: { merchants: 3, receiptsPerMerchant: 30, seed: 13, errorRate: 0.1 },
    });
  });
  after(async () => h?.close());

  test('the run ends FAILED with the 401 and what to do; no call after the first refusals', async () => {
    const { runId, failure } = await runToFailure(h, 'evaluateLabels', {});
    // The first refusal, or the breaker it opened, whichever reached the root first.
    assert.ok(['LlmProviderAuth', 'LlmCircuitOpen'].includes(failure.type ?? ''), String(failure.type));
    assert.match(failure.message, /HTTP 401/);
    assert.match(failure.message, /Check the API key/);

    const run = await createStores(h.cfg).runs.getRun(runId);
    assert.equal(run?.status, 'FAILED');
    assert.match(String(run?.report?.reason), /HTTP 401.*Check the API key/s);

    const m = h.emulator.metrics();
    assert.ok(m.requests > 0, 'the provider was asked');
    assert.equal(m.statusFaults, m.requests, 'every request was refused');
    assert.ok(
      m.requests <= CAP,
      `${m.requests} requests: at most the ${CAP} in flight when the breaker opened`,
    );
    assert.equal(await requestsSettle(h), 0, 'no request after the run failed');

    // Receipts never reviewed are not recorded as failed items: a redrive will take them.
    const results = await createStores(h.cfg).runs.listResults(runId);
    assert.ok(results.length < 90, `${results.length} results of 90 receipts`);
  });
});

describe('provider breaker: an enrichment refused with 403 stops', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({
      emulator: { faultStatus: 403, faultRate: 1 },
      env: { LLM_MAX_CONCURRENT_CALLS: String(CAP) },
    });
    await writePlaces(h.cfg, generatePlaces({ count: 60, seed: 13 }));
  });
  after(async () => h?.close());

  test('the run ends FAILED with the 403; the provider sees at most the calls in flight', async () => {
    const { runId, failure } = await runToFailure(h, 'enrichPlaces', {});
    assert.ok(['LlmProviderAuth', 'LlmCircuitOpen'].includes(failure.type ?? ''), String(failure.type));
    assert.match(failure.message, /HTTP 403/);
    const run = await createStores(h.cfg).runs.getRun(runId);
    assert.equal(run?.status, 'FAILED');
    assert.match(String(run?.report?.reason), /HTTP 403/);
    const m = h.emulator.metrics();
    assert.ok(m.requests > 0 && m.requests <= CAP, `${m.requests} requests, cap ${CAP}`);
    assert.equal(await requestsSettle(h), 0, 'no request after the run failed');
  });
});

describe('provider breaker: a test-suite analysis refused with 401 stops', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({
      emulator: { faultStatus: 401, faultRate: 1 },
      env: { LLM_MAX_CONCURRENT_CALLS: String(CAP) },
    });
  });
  after(async () => h?.close());

  test('the run ends FAILED with the 401; the queued calls never reach the provider', async () => {
    const { runId, failure } = await runToFailure(h, 'analyzeTestSuite', {
      path: path.resolve('test/fixtures/quality'),
    });
    assert.ok(['LlmProviderAuth', 'LlmCircuitOpen'].includes(failure.type ?? ''), String(failure.type));
    assert.match(failure.message, /HTTP 401/);
    const run = await createStores(h.cfg).runs.getRun(runId);
    assert.equal(run?.status, 'FAILED');
    const m = h.emulator.metrics();
    assert.ok(
      m.requests > 0 && m.requests <= CAP,
      `${m.requests} requests of 91 uncertain functions, cap ${CAP}`,
    );
    assert.equal(await requestsSettle(h), 0, 'no request after the run failed');
  });
});

describe('provider breaker: a burst of non-retryable errors (404, unknown model) stops an enrichment', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({
      emulator: { faultStatus: 404, faultRate: 1 },
      env: { LLM_MAX_CONCURRENT_CALLS: String(CAP) },
    });
    await writePlaces(h.cfg, generatePlaces({ count: 60, seed: 14 }));
  });
  after(async () => h?.close());

  test('the run ends FAILED once 5 calls in a row failed for good; the rest never reach the provider', async () => {
    const { runId, failure } = await runToFailure(h, 'enrichPlaces', {});
    assert.equal(failure.type, 'LlmCircuitOpen');
    assert.match(failure.message, /5 calls in a row failed for good.*404/s);
    assert.equal((await createStores(h.cfg).runs.getRun(runId))?.status, 'FAILED');
    const m = h.emulator.metrics();
    // The 5 that opened it, plus at most the calls in flight then.
    assert.ok(m.requests >= 5 && m.requests <= 5 + CAP, `${m.requests} requests of 60 places`);
    assert.equal(await requestsSettle(h), 0, 'no request after the run failed');
  });
});
