// The shared LLM layer learning a provider's limit it was not told: from refusals (a provider that
// answers 429 past 4 calls) and from latency (a provider that queues past 4 slots and never refuses).
// Both judge call latencies, so `npm test` runs this file alone: another file's CPU would show up in
// the latencies as a provider that slowed down. Only counts and limits are asserted; figures
// (refusal ratio, makespan vs. the provider bound) are printed as diagnostics.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { EvaluationReport } from '../src/activities/evaluate';
import { llmPhase } from '../dev/emulator/metrics';
import { GlobalLimiter } from '../src/llm/limiter';
import { createStores } from '../src/deps';
import { createDynamoClient } from '../src/stores/clients';
import { runEvaluation, seconds as ms } from '../dev/harness/llm-layer';
import { startHarness, type Harness } from '../dev/harness/pipeline';

// A short run first: a process's first run is slow (modules loaded and compiled, workflow code first
// run, connections opened), and a limiter learning from latency would take that for a provider
// slowing down (measured: the first test of the file settled one or two below the provider's limit).
before(async () => {
  const h = await startHarness({
    emulator: { accuracy: 1 },
    dataset: { merchants: 1, receiptsPerMerchant: 10, seed: 2 },
  });
  try {
    await runEvaluation(h, { reviewChunkSize: 5 });
  } finally {
    await h.close();
  }
});

describe('a provider that queues (4 slots, never refuses), cap 16: the latency signal learns about its parallelism', () => {
  let h: Harness;
  let report: EvaluationReport;

  before(async () => {
    h = await startHarness({
      emulator: {
        providerModel: 'queueing',
        parallel: 4,
        maxQueue: 0,
        parallelSpeedup: 4, // slots that do not slow each other: latency only grows by queueing
        // Calls of about 300 ms: at 100 ms (20 +- 10 and the tokens) this process's own event-loop lag
        // (20-40 ms on a loaded machine: the workers and the emulator share it) was a third of a call,
        // permits held 6 where the provider saw 5, and the latency read 1.1-1.3x at a queue of 1.6.
        latencyMs: 200,
        jitterMs: 100,
        prefillTokensPerS: 20_000,
        decodeTokensPerS: 2_000,
        accuracy: 1,
      },
      env: { LLM_MAX_CONCURRENT_CALLS: '16', LLM_ADAPTIVE: 'latency' },
      dataset: { merchants: 2, receiptsPerMerchant: 40, seed: 5 },
    });
    report = await runEvaluation(h, { reviewChunkSize: 5 });
  });
  after(async () => h?.close());

  test('every receipt succeeds and nothing is refused', () => {
    assert.equal(report.succeeded, 80, JSON.stringify(report.failures));
    assert.equal(h.emulator.metrics().rateLimited, 0);
    assert.equal(report.llm.timeouts, 0);
  });

  test('the shared limit left slow start and settled near the provider parallelism (3 to 5)', async (t) => {
    const lim = new GlobalLimiter(createDynamoClient(h.cfg), h.cfg.DYNAMODB_TABLE, {
      cap: 16,
      leaseMs: h.cfg.LLM_PERMIT_LEASE_MS,
    });
    const s = await lim.snapshot();
    const m = h.emulator.metrics();
    const phase = llmPhase(m.series);
    t.diagnostic(
      `limit ${s.limit}, unloaded ${s.state.baseLatency?.toFixed(3)} ms/unit, provider queue max ${m.queuedMax}, ` +
        `requests ${m.requests}, mean slots busy ${phase.meanInFlight.toFixed(2)}, mean queued ${phase.meanQueued.toFixed(2)}`,
    );
    assert.ok(m.requests >= 100, `enough calls to judge (${m.requests})`);
    assert.equal(s.slowStart, false, 'queueing ended slow start although nothing was refused');
    // Near the 4 slots (a loaded CI machine's noise can leave it one below), never climbing toward
    // the cap as refusal-only does (in the bench: 29 of 32, with 19 calls queued). On a quiet machine
    // it holds 5 (one call waiting at times: the signal's 20% tolerance cannot tell 5 from 4) and
    // probes 6 now and then; a snapshot taken during such a probe reads 6 (CI saw it once).
    assert.ok(s.limit >= 3 && s.limit <= 6, `limit ${s.limit}`);
    // What the limit is for: the provider's queue stayed near empty over the run, not only at its end
    // (measured: 0.31-0.88 with 4-5 held; with 6 held, Little's law says about 1.5).
    assert.ok(phase.meanQueued <= 1.25, `mean queued ${phase.meanQueued.toFixed(2)}`);
    // Slow start's overshoot queues a few at its peak (a receipt's chunks now start together, one
    // activity); refusal-only keeps 19 queued.
    assert.ok(m.queuedMax <= 6, `provider queue max ${m.queuedMax}`);
  });
});

describe('provider limit 4 unknown to us, cap 16: the adaptive limit learns it', () => {
  const latencyMs = 200;
  let h: Harness;
  let report: EvaluationReport;

  before(async () => {
    h = await startHarness({
      emulator: { maxConcurrency: 4, accuracy: 1, latencyMs, jitterMs: 20, retryAfterS: 1 },
      env: { LLM_MAX_CONCURRENT_CALLS: '16' },
      dataset: { merchants: 2, receiptsPerMerchant: 40, seed: 5 },
    });
    report = await runEvaluation(h, { reviewChunkSize: 5 });
  });
  after(async () => h?.close());

  test('every receipt succeeds, and each refusal is accounted', () => {
    assert.equal(report.succeeded, 80, JSON.stringify(report.failures));
    assert.equal(report.llm.rateLimited, h.emulator.metrics().rateLimited);
  });

  test('refused calls are at most 2% of all calls; the run is near the provider bound', async (t) => {
    const m = h.emulator.metrics();
    const answered = m.requests - m.rateLimited;
    const bound = (answered * latencyMs) / 4;
    // The same bound with the provider time each call really took (the emulator slows under load).
    const calls = await createStores(h.cfg).runs.listCalls(report.runId);
    const measuredBound = calls.filter((c) => c.status === 'ok').reduce((n, c) => n + c.latencyMs, 0) / 4;
    const phase = llmPhase(m.series);
    t.diagnostic(
      `requests ${m.requests}, refused ${m.rateLimited} (${((100 * m.rateLimited) / m.requests).toFixed(2)}%), ` +
        `makespan ${ms(report.makespanMs)} = ${(report.makespanMs / bound).toFixed(3)}x the bound ` +
        `${ms(bound)} (${answered} answered x ${latencyMs} ms / 4), ` +
        `${(report.makespanMs / measuredBound).toFixed(3)}x the bound from measured call times ${ms(measuredBound)}; ` +
        `LLM phase ${ms(phase.span)} = ${(phase.span / bound).toFixed(3)}x, mean in flight ${phase.meanInFlight.toFixed(2)}`,
    );
    assert.ok(m.requests >= 300, `enough calls to judge (${m.requests})`);
    assert.ok(m.rateLimited >= 1, 'the limit was unknown, so it was met at least once');
    assert.ok(m.rateLimited / m.requests <= 0.02, `${m.rateLimited}/${m.requests} refused`);
    assert.ok(m.inFlightMax <= 4);
  });

  test('the shared limit settled at the provider limit (4, or probing 5)', async (t) => {
    const lim = new GlobalLimiter(createDynamoClient(h.cfg), h.cfg.DYNAMODB_TABLE, {
      cap: 16,
      leaseMs: h.cfg.LLM_PERMIT_LEASE_MS,
    });
    const s = await lim.snapshot();
    t.diagnostic(`limit ${s.limit}, probe interval ${s.state.probeInterval}, held ${s.held}`);
    assert.equal(s.slowStart, false);
    assert.ok(s.limit === 4 || s.limit === 5, `limit ${s.limit}`);
    assert.equal(s.held, 0);
  });
});
