// The latency signal of the adaptive limit (pure): windows of samples from a model provider that
// serves P calls at once and queues the rest (latency grows as in-flight / P beyond P).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DEFAULT_LATENCY_OPTIONS,
  judgeWindow,
  nextBase,
  normalisedLatency,
  spreadOf,
  windowStats,
  workUnits,
  type LatencyMemory,
  type LatencySample,
} from '../src/llm/latency-signal';

/** A window of `n` calls at `inFlight` against a provider serving `parallel` at once (ms per work unit = 2). */
function window(inFlight: number, parallel: number, n = 8, sharing = 1): LatencySample[] {
  return Array.from({ length: n }, (_, i) => {
    const promptTokens = 400 + i * 40; // different prompt sizes: normalisation makes them comparable
    const completionTokens = 100 + i * 10;
    const work = workUnits({ promptTokens, completionTokens });
    const queueing = Math.max(1, inFlight / parallel);
    return {
      latencyMs: 2 * work * queueing * sharing,
      promptTokens,
      completionTokens,
      inFlight,
      startedAt: i,
    };
  });
}

/** Judges `samples` against an unloaded latency of 2 ms per work unit, at `limit`, after slow start. */
function judgeAt(samples: LatencySample[], limit: number, memory: LatencyMemory = {}, slowStart = false) {
  return judgeWindow(windowStats(samples)!, { memory, baseLatency: 2, limit, slowStart });
}

/** What a cut from `limit` remembers: the throughput of `samples` and that limit. */
const cutFrom = (samples: LatencySample[], limit: number): LatencyMemory => ({
  xBeforeCut: windowStats(samples)!.throughput,
  limitBeforeCut: limit,
});

describe('latency signal', () => {
  test('normalised latency makes calls of different sizes comparable', () => {
    const w = window(2, 4);
    const norms = w.map(normalisedLatency);
    assert.ok(
      norms.every((x) => Math.abs(x - 2) < 1e-9),
      norms.join(','),
    );
    const stats = windowStats(w)!;
    assert.equal(stats.samples, 8);
    assert.equal(stats.meanInFlight, 2);
    assert.equal(stats.throughput, 1, "Little's law: 2 in flight / 2 ms per unit");
  });

  test('at or below the provider parallelism there is room', () => {
    const stats = windowStats(window(4, 4))!;
    assert.deepEqual(judgeWindow(stats, { memory: {}, baseLatency: 2, limit: 4, slowStart: false }), {
      kind: 'room',
    });
  });

  test('queueing found in slow start: shrink to what the provider serves at once', () => {
    for (const [inFlight, parallel] of [
      [8, 4],
      [16, 4],
      [32, 4],
      [5, 4],
      [4, 2],
    ] as const) {
      const stats = windowStats(window(inFlight, parallel))!;
      const verdict = judgeWindow(stats, { memory: {}, baseLatency: 2, limit: inFlight, slowStart: true });
      assert.equal(verdict.kind, 'shrink');
      assert.equal(
        verdict.kind === 'shrink' && verdict.to,
        parallel,
        `${inFlight} in flight, parallel ${parallel}`,
      );
    }
    // A window that read a little less queueing than its calls in flight say (7 at 1.66x: 4.2 served)
    // lands on the provider's 4, not one above.
    const mixed = judgeWindow(windowStats(window(7, 4, 8, 0.95))!, {
      memory: {},
      baseLatency: 2,
      limit: 7,
      slowStart: true,
    });
    assert.equal(mixed.kind === 'shrink' && mixed.to, 4);
  });

  test('a probe one above the parallelism brings latency and no throughput: back down', () => {
    const atP = windowStats(window(4, 4))!;
    const above = windowStats(window(5, 4))!;
    const verdict = judgeWindow(above, {
      memory: { xBeforeProbe: atP.throughput },
      baseLatency: 2,
      limit: 5,
      slowStart: false,
    });
    assert.equal(verdict.kind, 'shrink');
    assert.equal(verdict.kind === 'shrink' && verdict.to, 4);
  });

  test('slots sharing a machine: latency up but throughput up too, so the raised limit is held', () => {
    // A real CPU server: 2 slots each run at 70% of a lone slot's speed (1.43x the throughput).
    const lone = windowStats(window(1, 1))!;
    const two = windowStats(window(2, 2, 8, 1 / 0.7))!;
    const ctx = { baseLatency: lone.latency, slowStart: false };
    const verdict = judgeWindow(two, { ...ctx, memory: { xBeforeProbe: lone.throughput }, limit: 2 });
    assert.equal(verdict.kind, 'hold');
    // One more than its slots: queueing, throughput flat against 2.
    const three = windowStats(window(3, 2, 8, 1 / 0.7))!;
    const next = judgeWindow(three, { ...ctx, memory: { xBeforeProbe: two.throughput }, limit: 3 });
    assert.equal(next.kind === 'shrink' && next.to, 2);
  });

  test('the unloaded latency pools the windows read at it; far lower replaces it; learnt again once stale', () => {
    const o = DEFAULT_LATENCY_OPTIONS;
    const stats = windowStats(window(1, 1))!;
    const ms = stats.rawLatency;
    // The calls behind it go with it: the window's 8, or the one lone call that set the old base.
    assert.deepEqual(nextBase({}, stats, 1000, o), {
      baseLatency: 2,
      baseRawLatency: ms,
      baseAt: 1000,
      baseCalls: 8,
    });
    assert.deepEqual(
      nextBase({ baseLatency: 1, baseRawLatency: 100, baseAt: 900, baseCalls: 1 }, stats, 1000, o),
      {
        baseLatency: 1,
        baseRawLatency: 100,
        baseAt: 900,
        baseCalls: 1,
      },
    );
    assert.deepEqual(nextBase({ baseLatency: 3, baseAt: 900, baseCalls: 1 }, stats, 1000, o), {
      baseLatency: 2,
      baseRawLatency: ms,
      baseAt: 1000,
      baseCalls: 8,
    });
    assert.deepEqual(nextBase({ baseLatency: 1, baseAt: 0 }, stats, o.baseMaxAgeMs + 1, o), {
      baseLatency: 2,
      baseRawLatency: ms,
      baseAt: o.baseMaxAgeMs + 1,
      baseCalls: 8,
    });
    // Within the tolerance it pools, weighed by calls (8 at 2 with 8 at 1.8: 1.9), unless the level may
    // have queued (at or above a level a latency cut went to); above the tolerance it never pools.
    const near = { baseLatency: 1.8, baseRawLatency: ms, baseAt: 900, baseCalls: 8 };
    const pooled = nextBase(near, stats, 1000, o);
    assert.ok(Math.abs(pooled.baseLatency - 1.9) < 1e-9, `${pooled.baseLatency}`);
    assert.deepEqual([pooled.baseCalls, pooled.baseAt], [16, 1000]);
    assert.deepEqual(nextBase(near, stats, 1000, o, false), near);
    assert.equal(nextBase({ ...near, baseLatency: 1.5 }, stats, 1000, o).baseLatency, 1.5);
    // A slow provider (16 s calls): its unloaded latency lives 20 of its calls, not 60 s.
    const slow = { baseLatency: 1, baseRawLatency: 16_000, baseAt: 0 };
    assert.equal(nextBase(slow, stats, 5 * 60_000, o).baseLatency, 1, 'at 5 min, still the unloaded latency');
    assert.equal(nextBase(slow, stats, 20 * 16_000 + 1, o).baseLatency, 2, 'learnt again after 20 calls');
  });

  test('a CPU-starved client holds: its own event-loop lag is not the provider queueing', () => {
    const stats = windowStats(window(8, 4))!;
    const ctx = { memory: {}, baseLatency: 2, limit: 8, slowStart: true, medianLatencyMs: 2000 };
    // Twice the unloaded latency; 150 ms of lag explains little of it: the provider queues.
    assert.equal(judgeWindow(stats, { ...ctx, clientLagMs: 150 }).kind, 'shrink');
    // 1.2 s of the 2 s is this process's own lag: what is left is no queue.
    const starved = judgeWindow(stats, { ...ctx, clientLagMs: 1200 });
    assert.equal(starved.kind, 'hold');
    assert.match(starved.kind === 'hold' ? starved.reason : '', /CPU-starved/);
    // At the unloaded latency the lag changes nothing: there is room.
    const calm = windowStats(window(4, 4))!;
    assert.equal(judgeWindow(calm, { ...ctx, clientLagMs: 1200 }).kind, 'room');
    // Turned off, the lag is not discounted.
    const off = { ...DEFAULT_LATENCY_OPTIONS, accountClientLag: false };
    assert.equal(judgeWindow(stats, { ...ctx, clientLagMs: 1200 }, off).kind, 'shrink');
  });

  test("a queue's spread is no noise once calls at the unloaded latency have shown the provider's own", () => {
    // Slow start overshooting a queue: calls waited from nothing to most of a service time (1.0-1.7x).
    const spreadOut = Array.from({ length: 8 }, (_, i) => ({
      latencyMs: 800 * (1 + 0.1 * i),
      promptTokens: 400,
      completionTokens: 100,
      inFlight: 8,
      startedAt: i,
    }));
    const stats = windowStats(spreadOut)!;
    const ctx = { memory: {}, baseLatency: stats.latency / 1.4, limit: 8, slowStart: true };
    // Read from the window itself, that spread hides the queue.
    assert.equal(judgeWindow(stats, ctx).kind, 'room');
    // Calls at the unloaded latency varied by 2%: 1.4x is a queue.
    const steady = { perToken: 0.02, ms: 0.02 };
    assert.equal(judgeWindow(stats, { ...ctx, unqueuedSpread: steady }).kind, 'shrink');
    assert.equal(spreadOf([0.01, 0.02, 0.03]), undefined, 'too few calls to say');
    assert.ok(Math.abs(spreadOf([0, 0.01, 0.02, 0.02, 0.03, 0.04])! - 1.4826 * 0.02) < 1e-9);
  });

  test('never below one call', () => {
    const stats = windowStats(window(2, 1, 8, 10))!;
    const verdict = judgeWindow(stats, { memory: {}, baseLatency: 2, limit: 2, slowStart: true });
    assert.equal(verdict.kind === 'shrink' && verdict.to, 1);
  });

  test('after slow start, latency a little up with nothing measured below tries one less', () => {
    const stats = windowStats(window(5, 4))!; // 1.25x
    const ctx = { memory: {}, baseLatency: 2, limit: 5 };
    const trial = judgeWindow(stats, { ...ctx, slowStart: false });
    assert.deepEqual(
      [trial.kind, trial.kind === 'shrink' && trial.to, trial.kind === 'shrink' && trial.trial],
      ['shrink', 4, true],
    );
    assert.equal(judgeWindow(stats, { ...ctx, slowStart: true }).kind, 'shrink');
    // Far up (more than twice unloaded) is evidence enough on its own.
    const far = judgeWindow(windowStats(window(12, 4))!, {
      memory: {},
      baseLatency: 2,
      limit: 12,
      slowStart: false,
    });
    assert.deepEqual([far.kind, far.kind === 'shrink' && far.to], ['shrink', 4]);
  });

  test("a window's noise is read from its spread about the true median (4 calls: 700, 702, 900, 1000 ms)", () => {
    const four = [700, 702, 900, 1000].map((latencyMs, i) => ({
      latencyMs,
      promptTokens: 400,
      completionTokens: 100,
      inFlight: 4,
      startedAt: i,
    }));
    const stats = windowStats(four)!;
    // About the lower middle (702) the median deviation is 2 ms: steady. About 801 it is 100 ms.
    assert.ok(stats.rawMedianError > 0.1, `raw median error ${stats.rawMedianError}`);
    assert.ok(
      Math.abs(stats.medianError - stats.rawMedianError) < 1e-9,
      'same prompts: same spread per token',
    );
  });

  test("jitter within a window's noise is no queue, and no trial of one less where it hides the loss", () => {
    // A fixed-time provider, 800 +- 200 ms (spread evenly), at `limit` calls.
    const jittery = (limit: number, spreadMs = 200, scale = 1): LatencySample[] =>
      Array.from({ length: 8 }, (_, i) => ({
        latencyMs: scale * (800 - spreadMs + (((i * 5) % 8) * 2 * spreadMs) / 7),
        promptTokens: 400,
        completionTokens: 100,
        inFlight: limit,
        startedAt: i,
      }));
    const at16 = windowStats(jittery(16))!;
    assert.ok(at16.medianError > 0.05, `median error ${at16.medianError}`);
    const judge16 = (base: number) =>
      judgeWindow(at16, {
        memory: {},
        baseLatency: base,
        baseRawLatency: undefined,
        baseCalls: 64,
        limit: 16,
        slowStart: false,
      });
    // 1.3x a base pooled from 64 such calls: within the noise of 8 of them.
    assert.equal(judge16(at16.latency / 1.3).kind, 'room');
    // 1.8x: above it, but one less of 16 would lose 1/16, which that noise hides: held.
    const held = judge16(at16.latency / 1.8);
    assert.equal(held.kind, 'hold');
    assert.match(held.kind === 'hold' ? held.reason : '', /within the provider's noise/);
    // In slow start the same window is cut (queueing there costs the provider's queue at once).
    const slow = judgeWindow(at16, {
      memory: {},
      baseLatency: at16.latency / 1.8,
      limit: 16,
      slowStart: true,
    });
    assert.equal(slow.kind, 'shrink');
    // +- 40 ms at 4 calls, 1.4x: a queue, and the quarter one less would lose shows through the noise.
    const calm = windowStats(jittery(4, 40))!;
    const at4 = judgeWindow(calm, {
      memory: {},
      baseLatency: calm.latency / 1.4,
      limit: 4,
      slowStart: false,
    });
    assert.deepEqual([at4.kind, at4.kind === 'shrink' && at4.trial], ['shrink', true]);
    // Without noise (a queueing provider's per-token latency), one less of 16 is tried.
    const steady = judgeWindow(windowStats(window(16, 16, 8, 1.3))!, {
      memory: {},
      baseLatency: 2,
      limit: 16,
      slowStart: false,
    });
    assert.deepEqual([steady.kind, steady.kind === 'shrink' && steady.to], ['shrink', 15]);
  });

  test('windows in a row a little up pool their evidence: one less is tried once it shows through', () => {
    // 800 +- 80 ms at 7 calls, 1.4x the base: one window's noise hides the 1/7 one less would lose.
    const at7 = windowStats(
      Array.from({ length: 8 }, (_, i) => ({
        latencyMs: 720 + (((i * 5) % 8) * 160) / 7,
        promptTokens: 400,
        completionTokens: 100,
        inFlight: 7,
        startedAt: i,
      })),
    )!;
    const judge = (evidenceWindows: number) =>
      judgeWindow(at7, {
        memory: {},
        baseLatency: at7.latency / 1.4,
        baseCalls: 64,
        limit: 7,
        slowStart: false,
        evidenceWindows,
      });
    const one = judge(1);
    assert.deepEqual([one.kind, one.kind === 'hold' && one.suspected], ['hold', true]);
    assert.equal(judge(2).kind, 'hold', 'two windows: still within the noise');
    const three = judge(3);
    assert.deepEqual(
      [three.kind, three.kind === 'shrink' && three.trial, three.kind === 'shrink' && three.to],
      ['shrink', true, 6],
    );
  });

  test('a trial of one less that lost throughput while latency stayed up goes back up and rebases', () => {
    // A provider a little slower than the base says, at every level: 4 calls, 4 slots, 1.3x.
    const atFour = windowStats(window(4, 4, 8, 1.3))!;
    const atThree = windowStats(window(3, 4, 8, 1.3))!;
    const held = judgeWindow(atThree, {
      memory: { xBeforeCut: atFour.throughput, limitBeforeCut: 4 },
      baseLatency: 2,
      limit: 3,
      slowStart: false,
    });
    assert.equal(held.kind, 'hold');
    assert.deepEqual(held.kind === 'hold' && [held.rebase, held.restoreTo], [true, 4]);
    // A refusing provider at a high limit: latency flat (noise), one less of 12 loses 1/12 of the
    // throughput, under the 10% a probe must bring, yet enough to say no call was waiting.
    const atTwelve = windowStats(window(12, 16, 8, 1.3))!;
    const atEleven = windowStats(window(11, 16, 8, 1.3))!;
    const back = judgeWindow(atEleven, {
      memory: { xBeforeCut: atTwelve.throughput, limitBeforeCut: 12 },
      baseLatency: 2,
      limit: 11,
      slowStart: false,
    });
    assert.deepEqual([back.kind, back.kind === 'hold' && back.restoreTo], ['hold', 12]);
    // Queueing instead: one less kept the throughput, latency still up, so one less again.
    const queued = windowStats(window(6, 4))!;
    const stillQueued = windowStats(window(5, 4))!;
    const again = judgeWindow(stillQueued, {
      memory: { xBeforeCut: queued.throughput, limitBeforeCut: 6 },
      baseLatency: 2,
      limit: 5,
      slowStart: false,
    });
    assert.deepEqual([again.kind, again.kind === 'shrink' && again.to], ['shrink', 4]);
    // The latency fell back under the tolerance after one less, but the throughput fell with it:
    // noise (a hosted API's jitter) read as queueing. Back up all the same.
    const noise = judgeAt(window(3, 4), 3, cutFrom(window(4, 4), 4));
    assert.deepEqual([noise.kind, noise.kind === 'hold' && noise.restoreTo], ['hold', 4]);
    // Never below one call.
    const one = judgeWindow(windowStats(window(1, 1, 8, 1.3))!, {
      memory: {},
      baseLatency: 2,
      limit: 1,
      slowStart: false,
    });
    assert.equal(one.kind, 'hold');
  });
});

test('a cut in slow start is judged by the throughput it kept: queueing keeps it, served calls lose it', () => {
  // Slow start at 8 against 4 slots: 2x the unloaded latency, cut to what the provider serves.
  const cut = judgeAt(window(8, 4), 8, {}, true);
  assert.deepEqual([cut.kind, cut.kind === 'shrink' && cut.to], ['shrink', 4]);
  // The provider queued: at 4 the throughput is the same and the latency unloaded. The cut stands.
  assert.equal(judgeAt(window(4, 4), 4, cutFrom(window(8, 4), 8)).kind, 'room');
  // The provider served all 8 at once, 1.3x slower than a base learnt from one lucky call: at 4 the
  // throughput halved. Back to 8, and that latency is the unloaded one from now on.
  const back = judgeAt(window(4, 8, 8, 1.3), 4, cutFrom(window(8, 8, 8, 1.3), 8));
  assert.deepEqual(back.kind === 'hold' && [back.restoreTo, back.rebase], [8, true]);
  // Part of the way: 6 slots, so at 4 two thirds of the throughput; back to 6, the base kept.
  const part = judgeAt(window(4, 6), 4, cutFrom(window(8, 6), 8));
  assert.deepEqual(part.kind === 'hold' && [part.restoreTo, part.rebase], [6, false]);
});

describe("latency signal, a provider that reports each call's wait for a slot (Ollama's durations)", () => {
  /** `window` with each call's wait as the provider reports it: the share of its latency beyond P. */
  const reported = (inFlight: number, parallel: number, perToken = 1) =>
    window(inFlight, parallel).map((s) => ({
      ...s,
      latencyMs: s.latencyMs * perToken,
      queuedMs: s.latencyMs * perToken * (1 - Math.min(1, parallel / inFlight)),
    }));

  test('calls that waited are a queue even where the latency per token reads low (a cheaper call mix)', () => {
    // 6 in flight against 4 slots: 1.5x their time in a slot, though 0.8x the unloaded latency per token.
    const w = reported(6, 4, 0.8 / 1.5);
    const stats = windowStats(w)!;
    assert.ok(Math.abs(stats.queueRatio! - 1.5) < 1e-9, String(stats.queueRatio));
    assert.equal(
      judgeWindow(windowStats(window(6, 4).map((s) => ({ ...s, latencyMs: s.latencyMs * (0.8 / 1.5) })))!, {
        memory: {},
        baseLatency: 2,
        limit: 6,
        slowStart: true,
      }).kind,
      'room',
      'without the report: room',
    );
    const slow = judgeAt(w, 6, {}, true);
    assert.deepEqual([slow.kind, slow.kind === 'shrink' && slow.to], ['shrink', 4]);
    // After slow start too, no trial of one less: the cut goes where Little's law says.
    const after = judgeAt(w, 6, {}, false);
    assert.deepEqual(
      [after.kind, after.kind === 'shrink' && after.to, after.kind === 'shrink' && after.trial],
      ['shrink', 4, undefined],
    );
  });

  test('no call waited: the report adds nothing (the latency still judges slots that share a machine)', () => {
    assert.equal(windowStats(reported(4, 4))!.queueRatio, 1);
    assert.equal(judgeAt(reported(4, 4), 4).kind, 'room');
    // 2 slots that share one machine: no wait reported, each call twice as slow. Still a cut.
    const shared = window(2, 1).map((s) => ({ ...s, queuedMs: 0 }));
    const v = judgeAt(shared, 2, {}, true);
    assert.deepEqual([v.kind, v.kind === 'shrink' && v.to], ['shrink', 1]);
  });

  test('calls the provider did not report on (embeddings, a timeout) are left out; fewer than half reported, none', () => {
    const w: LatencySample[] = reported(6, 4);
    w[0] = { ...w[0]!, queuedMs: undefined };
    assert.ok(Math.abs(windowStats(w)!.queueRatio! - 1.5) < 1e-9, 'the other 7 calls');
    for (const i of [1, 2, 3, 4]) w[i] = { ...w[i]!, queuedMs: undefined };
    assert.equal(windowStats(w)!.queueRatio, undefined, '3 of 8 reported');
  });
});

describe('latency signal, a provider whose latency does not follow the tokens', () => {
  /** `n` calls of a fixed 200 ms (x `queueing`) with prompts of `promptTokens` each. */
  const fixedTime = (promptTokens: number, queueing = 1, inFlight = 4): LatencySample[] =>
    Array.from({ length: 8 }, (_, i) => ({
      latencyMs: 200 * queueing,
      promptTokens,
      completionTokens: 50,
      inFlight,
      startedAt: i,
    }));
  const o = DEFAULT_LATENCY_OPTIONS;

  test('a window of smaller prompts at the same latency is not queueing (the ms ratio is 1)', () => {
    const big = windowStats(fixedTime(1200))!;
    const memory = { ...nextBase({}, big, 0, o), xAtLimit: big.throughput };
    const small = windowStats(fixedTime(200))!;
    assert.ok(small.latency / memory.baseLatency > 1.5, 'per work unit, the small prompts look slow');
    const base = nextBase(memory, small, 1, o);
    const verdict = judgeWindow(small, { memory, ...base, limit: 4, slowStart: false }, o);
    assert.equal(verdict.kind, 'room', JSON.stringify(verdict));
  });

  test('calls that wait in a queue are slower per work unit and in ms: the limit shrinks', () => {
    const unloaded = windowStats(fixedTime(600))!;
    const memory = nextBase({}, unloaded, 0, o);
    const queued = windowStats(fixedTime(600, 2, 8))!;
    const base = nextBase(memory, queued, 1, o);
    const verdict = judgeWindow(queued, { memory, ...base, limit: 8, slowStart: true }, o);
    assert.deepEqual([verdict.kind, verdict.kind === 'shrink' && verdict.to], ['shrink', 4]);
  });
});
