// The shared LLM limiter against the real dynalite of the embedded stack: mutual exclusion across
// limiter instances (as separate processes have), lease expiry of a killed holder, the adaptive
// limit (slow start, cut on 429, probing) and the per-minute token budget.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { type AppConfig, loadConfig } from '../src/config';
import { LlmBudgetExhaustedError } from '../src/llm/errors';
import { GlobalLimiter, type LimiterOptions, type Permit } from '../src/llm/limiter';
import { createDynamoClient } from '../src/stores/clients';
import { ensureTable } from '../src/stores/provision';
import { readSlots } from '../dev/harness/llm-layer';
import { ensureStack } from '../dev/harness/stack';

const id = () => `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let cfg: AppConfig;

/** Our environment without the test runner's marker: the child is a plain process. */
function childEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.NODE_TEST_CONTEXT;
  return env;
}

/** A limiter instance with its own DynamoDB client, as a separate worker process would have. */
function limiter(opts: Partial<LimiterOptions> & { name: string }): GlobalLimiter {
  return new GlobalLimiter(createDynamoClient(cfg), cfg.DYNAMODB_TABLE, { cap: 8, leaseMs: 5000, ...opts });
}

/** Eight requests of 400 prompt + 100 completion tokens at `inFlight`, each taking `latencyMs`: the verdict. */
async function latencyWindow(lim: GlobalLimiter, held: Permit, inFlight: number, latencyMs: number) {
  const decisions = lim.latencyDecisions.length;
  for (let i = 0; i < 8; i++)
    lim.observeLatency(
      { ...held, inFlightAtStart: inFlight, acquiredAt: Date.now() },
      { latencyMs, promptTokens: 400, completionTokens: 100 },
    );
  for (let i = 0; i < 200 && lim.latencyDecisions.length === decisions; i++) await sleep(20);
  return lim.latencyDecisions.at(-1)!.verdict;
}

/** A verdict is recorded before its write to the shared state: the state once the write landed. */
async function landedState(
  reader: GlobalLimiter,
  landed: (s: Awaited<ReturnType<GlobalLimiter['snapshot']>>) => boolean,
) {
  for (let i = 0; i < 100; i++) {
    const snap = await reader.snapshot();
    if (landed(snap)) return snap;
    await sleep(20);
  }
  return reader.snapshot();
}

before(async () => {
  await ensureStack();
  cfg = loadConfig({ ...process.env, DYNAMODB_TABLE: `test-limiter-${id()}` });
  await ensureTable(cfg);
});

describe('mutual exclusion', () => {
  test('48 acquirers on two limiter instances never hold more than the cap (5) together', async () => {
    const name = `mutex-${id()}`;
    const instances = [
      limiter({ name, cap: 5, adaptive: false }),
      limiter({ name, cap: 5, adaptive: false }),
    ];
    let inside = 0;
    let peak = 0;
    let done = 0;
    await Promise.all(
      Array.from({ length: 48 }, async (_, i) => {
        const lim = instances[i % 2]!;
        const permit = await lim.acquire(AbortSignal.timeout(60_000));
        inside++;
        peak = Math.max(peak, inside);
        // Holds long against an acquisition (a Query and a Put) even on a loaded machine.
        await sleep(200 + ((i * 7) % 50));
        inside--;
        await lim.release(permit);
        done++;
      }),
    );
    assert.equal(done, 48);
    assert.ok(peak <= 5, `peak ${peak} > cap 5`);
    assert.equal(peak, 5, 'the whole cap was used');
    assert.equal((await instances[0]!.snapshot()).held, 0, 'every permit was given back');
  });

  test('the adaptive limit never lets more than the cap in either, while it grows', async () => {
    const name = `mutex-adaptive-${id()}`;
    // Refusal-only: no latency is reported here (latency-aware, slow start waits for it at one call).
    const instances = [
      limiter({ name, cap: 6, latencyAware: false }),
      limiter({ name, cap: 6, latencyAware: false }),
    ];
    let inside = 0;
    let peak = 0;
    await Promise.all(
      Array.from({ length: 60 }, async (_, i) => {
        const lim = instances[i % 2]!;
        const permit = await lim.acquire(AbortSignal.timeout(60_000));
        inside++;
        peak = Math.max(peak, inside);
        assert.ok(permit.heldAtAcquire <= permit.allowedAtAcquire);
        await sleep(200);
        inside--;
        await lim.release(permit);
        await lim.recordSuccess(permit);
      }),
    );
    assert.ok(peak <= 6, `peak ${peak} > cap 6`);
    assert.ok(peak > 4, `slow start grew past the initial window of 4 (peak ${peak})`);
  });

  test('waiters of one process get permits in arrival order; an aborted wait leaves the line', async () => {
    const lim = limiter({ name: `fifo-${id()}`, cap: 1, adaptive: false });
    const first = await lim.acquire();
    const order: number[] = [];
    const abort = new AbortController();
    const waits = [1, 2, 3, 4, 5].map((n) =>
      lim.acquire(n === 3 ? abort.signal : undefined).then(async (p) => {
        order.push(n);
        await sleep(5);
        await lim.release(p);
      }),
    );
    await sleep(50);
    assert.equal(lim.waiting, 5);
    abort.abort();
    await assert.rejects(waits[2]!, { name: 'AbortError' });
    assert.equal(lim.waiting, 4);
    await lim.release(first);
    await Promise.all([waits[0], waits[1], waits[3], waits[4]]);
    assert.deepEqual(order, [1, 2, 4, 5]);
    assert.equal(lim.waiting, 0);
  });
});

describe('local handoff', () => {
  /** Waits until `lim` has `n` calls waiting, and gives the head time to fall asleep between looks. */
  async function untilWaiting(lim: GlobalLimiter, n: number): Promise<void> {
    while (lim.waiting < n) await sleep(5);
    await sleep(50);
  }

  test('a released permit goes to the waiting call of the same process, lease and slot item unchanged', async () => {
    const lim = limiter({ name: `handoff-${id()}`, cap: 1, adaptive: false });
    const first = await lim.acquire();
    const [before] = await readSlots(createDynamoClient(cfg), cfg.DYNAMODB_TABLE);
    const next = lim.acquire();
    await untilWaiting(lim, 1);
    await lim.release(first);
    const second = await next;
    assert.equal(second.slot, first.slot);
    assert.equal(second.holder, first.holder);
    assert.equal(second.handoffs, 1);
    // No round trip: the slot item is the one the first call wrote.
    const [after] = await readSlots(createDynamoClient(cfg), cfg.DYNAMODB_TABLE);
    assert.deepEqual(after, before);
    // The new holder can still renew and release it as its own.
    await lim.renew(second);
    assert.ok(second.leaseUntil > first.acquiredAt + 5000 - 1);
    await lim.release(second);
    assert.equal((await lim.snapshot()).held, 0);
  });

  test('no handoff across processes, when turned off, or when the limit was cut below the holders', async () => {
    const name = `nohandoff-${id()}`;
    // Another instance (another process) waiting gets the permit through DynamoDB.
    const a = limiter({ name, cap: 1, adaptive: false });
    const b = limiter({ name, cap: 1, adaptive: false });
    const pa = await a.acquire();
    const pb = b.acquire();
    await untilWaiting(b, 1);
    await a.release(pa);
    const got = await pb;
    assert.notEqual(got.holder, pa.holder);
    assert.equal(got.handoffs, 0);
    await b.release(got);

    // handoffMaxAgeMs 0: always through DynamoDB.
    const off = limiter({ name: `off-${id()}`, cap: 1, adaptive: false, handoffMaxAgeMs: 0 });
    const p1 = await off.acquire();
    const w = off.acquire();
    await untilWaiting(off, 1);
    await off.release(p1);
    assert.equal((await w).handoffs, 0);
    await off.release(await w);

    // Adaptive: 4 held, a 429 cuts the limit to 3; the refused call's slot must not be handed on.
    const cut = limiter({ name: `cut-${id()}`, cap: 8, initialWindow: 4, latencyAware: false });
    const held = [await cut.acquire(), await cut.acquire(), await cut.acquire(), await cut.acquire()];
    let third: Permit | undefined;
    const waiter = cut.acquire().then((p) => (third = p));
    await untilWaiting(cut, 1);
    await cut.recordSuccess(held[0]!); // the provider has served: a refusal now says how many
    await cut.recordRateLimited(held[3]!);
    await cut.release(held[3]!);
    await sleep(300);
    assert.equal(third, undefined, 'the waiter got the refused slot');
    assert.deepEqual([(await cut.snapshot()).held, (await cut.snapshot()).allowed], [3, 3]);
    // One more released: 2 held, 3 allowed, so now the waiter gets a permit.
    await cut.release(held[0]!);
    await waiter;
    for (const p of [held[1]!, held[2]!, third!]) await cut.release(p);
  });
});

describe('leases', () => {
  test('the permits of a SIGKILLed holder process come back when their lease ends, not before', async (t) => {
    const name = `lease-${id()}`;
    const leaseMs = 3000;
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        path.join(__dirname, 'helpers/limiter-holder.ts'),
        cfg.DYNAMODB_TABLE,
        name,
        '3',
        String(leaseMs),
        '3',
      ],
      { env: childEnv(), stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const exited = new Promise((resolve) => child.once('exit', resolve));
    let out = '';
    const held = await new Promise<{ pid: number; permits: Permit[] }>((resolve, reject) => {
      child.stdout.on('data', (c: Buffer) => {
        out += c.toString();
        const line = out.split('\n').find((l) => l.startsWith('{'));
        if (line && out.includes('\n')) resolve(JSON.parse(line) as { pid: number; permits: Permit[] });
      });
      void exited.then(() => reject(new Error(`holder exited early: ${out}`)));
    });
    assert.equal(held.permits.length, 3);
    child.kill('SIGKILL');
    await exited;
    const killedAt = Date.now();
    const dead = new Map(
      (await readSlots(createDynamoClient(cfg), cfg.DYNAMODB_TABLE, name)).map((s) => [s.slot, s]),
    );
    assert.equal(dead.size, 3);
    const leaseEnd = Math.min(...[...dead.values()].map((s) => s.leaseUntil));

    const lim = limiter({ name, cap: 3, adaptive: false, leaseMs });
    const snap = await lim.snapshot();
    if (Date.now() < leaseEnd) assert.equal(snap.held, 3, 'a dead holder still counts while its lease runs');

    const permits = await Promise.all([0, 1, 2].map(() => lim.acquire(AbortSignal.timeout(30_000))));
    const backAt = Date.now();
    for (const p of permits) {
      const before = dead.get(p.slot);
      assert.ok(before, `slot ${p.slot} was one of the dead holder's`);
      assert.ok(p.acquiredAt >= before.leaseUntil, `slot ${p.slot} taken before the dead lease ended`);
      assert.notEqual(p.holder, before.holder);
    }
    t.diagnostic(
      `lease ${leaseMs} ms: all 3 permits back ${backAt - killedAt} ms after SIGKILL ` +
        `(${backAt - Math.max(...[...dead.values()].map((s) => s.leaseUntil))} ms after the last lease ended)`,
    );
    for (const p of permits) await lim.release(p);
  });
});

describe('adaptive limit', () => {
  test('slow start from 4 grows on successes; a 429 cuts the shared limit to what was accepted', async () => {
    const name = `adapt-${id()}`;
    // Refusal-only: this test reports no latency (a latency-aware limit waits for it in slow start).
    const a = limiter({ name, cap: 16, initialWindow: 4, latencyAware: false });
    const b = limiter({ name, cap: 16, initialWindow: 4, latencyAware: false }); // sees what a's calls taught
    const first = [await a.acquire(), await a.acquire(), await a.acquire(), await a.acquire()];
    assert.deepEqual(
      first.map((p) => p.heldAtAcquire),
      [1, 2, 3, 4],
    );
    let s = await b.snapshot();
    assert.equal(s.allowed, 4, 'initial window');
    assert.equal(s.held, 4);
    for (const p of first) await a.recordSuccess(p);
    s = await b.snapshot();
    assert.equal(s.confirmed, 4);
    assert.equal(s.allowed, 5, '4 confirmed -> 25% (at least one) more');
    assert.equal(s.slowStart, true);

    const fifth = await b.acquire();
    assert.equal(fifth.heldAtAcquire, 5);
    await b.recordRateLimited(fifth); // the provider took 4 and refused the 5th
    s = await a.snapshot();
    assert.equal(s.limit, 4);
    assert.equal(s.allowed, 4);
    assert.equal(s.slowStart, false);
    assert.equal(s.state.probeInterval, 40, 'the slow-start overshoot counts as a failed probe');
    await b.release(fifth);
    s = await a.snapshot();
    assert.equal(s.held, 4);
    assert.equal(s.held, s.allowed, 'no room for another call');

    // A later 429 from a call granted with more held never raises the limit.
    await a.recordRateLimited({ ...fifth, heldAtAcquire: 12 });
    assert.equal((await b.snapshot()).limit, 4);
    // Without a permit, the permits held now are what the provider accepted.
    await a.release(first[0]!);
    await a.release(first[1]!);
    await a.recordRateLimited();
    assert.equal((await b.snapshot()).limit, 2);
    for (const p of first.slice(2)) await a.release(p);
  });

  test('probing: only successes at the limit count, +1 after the interval, a refused probe doubles it', async () => {
    const name = `probe-${id()}`;
    const lim = limiter({ name, cap: 8, initialWindow: 4, probeAfterSuccesses: 3, latencyAware: false });
    // Slow start meets a provider limit of 4.
    const four = [await lim.acquire(), await lim.acquire(), await lim.acquire(), await lim.acquire()];
    await lim.recordSuccess(four[3]!);
    const over = await lim.acquire();
    await lim.recordRateLimited(over);
    await lim.release(over);
    let s = await lim.snapshot();
    assert.deepEqual([s.limit, s.slowStart, s.state.probeInterval], [4, false, 6]);

    // Successes of calls that ran below the limit (a thin backlog) prove nothing.
    for (const p of four) await lim.release(p);
    for (let i = 0; i < 8; i++) {
      const p = await lim.acquire();
      assert.ok(p.heldAtAcquire < p.allowedAtAcquire);
      await lim.release(p);
      await lim.recordSuccess(p);
    }
    s = await lim.snapshot();
    assert.equal(s.limit, 4);
    assert.equal(s.state.probeSuccesses, 0);

    // Successes with all 4 in use: after 6 (the doubled interval) the limit probes 5.
    const background = [await lim.acquire(), await lim.acquire(), await lim.acquire()];
    for (let i = 0; i < 6; i++) {
      assert.equal((await lim.snapshot()).limit, 4, `still 4 after ${i} successes at the limit`);
      const p = await lim.acquire();
      assert.equal(p.heldAtAcquire, 4);
      await lim.release(p);
      await lim.recordSuccess(p);
    }
    s = await lim.snapshot();
    assert.equal(s.limit, 5);
    assert.equal(s.allowed, 5);

    // The probe is refused: back to 4, and the next probe waits twice as long.
    background.push(await lim.acquire());
    const probe = await lim.acquire();
    assert.equal(probe.heldAtAcquire, 5);
    await lim.recordRateLimited(probe);
    await lim.release(probe);
    s = await lim.snapshot();
    assert.deepEqual([s.limit, s.state.probeInterval, s.state.probeSuccesses], [4, 12, 0]);
    for (const p of background) await lim.release(p);
  });

  test('latency: queueing in slow start cuts the shared limit; a probe that brings no throughput is undone', async () => {
    const name = `latency-${id()}`;
    // The samples are made up: this process's own event-loop lag must not hold the verdicts.
    const noLagGuard = { latency: { accountClientLag: false, baseSamples: 4 } };
    const lim = limiter({ name, cap: 8, initialWindow: 8, probeAfterSuccesses: 3, ...noLagGuard });
    const other = limiter({ name, cap: 8, initialWindow: 8 }); // another process sees the same state
    const held = await lim.acquire();
    const window = (inFlight: number, latencyMs: number) => latencyWindow(lim, held, inFlight, latencyMs);
    const sharedState = (landed: Parameters<typeof landedState>[1]) => landedState(other, landed);

    assert.equal((await window(4, 1000)).kind, 'room', '4 in flight at the unloaded latency');
    await lim.recordSuccess({ ...held, heldAtAcquire: 4 }); // served at once: the window opens to 8
    let s = await other.snapshot();
    assert.deepEqual([s.slowStart, s.allowed], [true, 8]);

    // 8 in flight take twice as long: the provider serves 4 at once and queues the rest.
    const cut = await window(8, 2000);
    assert.deepEqual([cut.kind, cut.kind === 'shrink' && cut.to], ['shrink', 4]);
    s = await sharedState((x) => x.limit !== 8);
    assert.deepEqual([s.limit, s.allowed, s.slowStart], [4, 4, false]);

    // At 4 the latency is back to unloaded; the overshoot counted as a failed probe (interval 3 -> 6),
    // so after 6 successes at the limit it probes 5.
    assert.equal((await window(4, 1000)).kind, 'room');
    for (let i = 0; i < 6; i++) await lim.recordSuccess({ ...held, heldAtAcquire: 4, allowedAtAcquire: 4 });
    s = await other.snapshot();
    assert.equal(s.limit, 5);
    assert.ok(s.state.xBeforeProbe! > 0, 'the throughput at 4 is kept to judge the probe by');

    // 5 in flight take 5/4 as long for the same throughput: the probe is undone, the next waits longer.
    const undo = await window(5, 1250);
    assert.deepEqual([undo.kind, undo.kind === 'shrink' && undo.to], ['shrink', 4]);
    s = await sharedState((x) => x.limit !== 5);
    assert.deepEqual([s.limit, s.state.probeInterval], [4, 12]);
    await lim.release(held);
  });

  test('latency: a slow-start cut that lost the throughput of calls served at once is undone, and slow start goes on', async () => {
    const name = `undo-${id()}`;
    const lim = limiter({
      name,
      cap: 16,
      initialWindow: 8,
      latency: { accountClientLag: false, baseSamples: 4 },
    });
    const held = await lim.acquire();
    const window = (inFlight: number, latencyMs: number) => latencyWindow(lim, held, inFlight, latencyMs);
    const state = (landed: Parameters<typeof landedState>[1]) => landedState(lim, landed);
    assert.equal((await window(4, 1000)).kind, 'room');
    await lim.recordSuccess({ ...held, heldAtAcquire: 4 });
    // A provider slower than its first calls said, at every level: 8 in flight at 2x read as a queue.
    const cut = await window(8, 2000);
    assert.deepEqual([cut.kind, cut.kind === 'shrink' && cut.to], ['shrink', 4]);
    let s = await state((x) => x.limit !== 8);
    assert.deepEqual([s.limit, s.slowStart, s.state.slowStartBeforeCut], [4, false, true]);
    // At 4 the same latency: half the throughput lost, so the calls were served, not queued.
    const back = await window(4, 2000);
    assert.deepEqual([back.kind, back.kind === 'hold' && back.restoreTo], ['hold', 8]);
    // Slow start goes on from 4 confirmed (8 allowed) up to the cap, not to 8 for good.
    s = await state((x) => x.limit !== 4);
    assert.deepEqual([s.limit, s.allowed, s.slowStart, s.state.slowStartBeforeCut], [16, 8, true, undefined]);
    await lim.release(held);
  });

  test('a refusal before any success (a model still loading) teaches no limit: slow start goes on', async () => {
    const lim = limiter({ name: `loading-${id()}`, cap: 8, initialWindow: 2, baseWindow: 2 });
    const two = [await lim.acquire(), await lim.acquire()];
    await lim.recordRateLimited(two[1]);
    let s = await lim.snapshot();
    assert.deepEqual([s.slowStart, s.allowed, s.state.probeInterval], [true, 2, 20]);
    // Once a call has succeeded, a refusal cuts as before.
    await lim.recordSuccess(two[0]!);
    await lim.recordRateLimited(two[1]);
    s = await lim.snapshot();
    assert.deepEqual([s.slowStart, s.limit], [false, 1]);
    for (const p of two) await lim.release(p);
  });

  test('latency-aware: the call that started alone sets the unloaded latency; slow start grows once it is known', async () => {
    const name = `lone-${id()}`;
    const lim = limiter({ name, cap: 8, baseWindow: 4, latency: { accountClientLag: false } });
    const sample = (latencyMs: number) => ({ latencyMs, promptTokens: 400, completionTokens: 100 });
    const first = await lim.acquire();
    assert.equal((await lim.snapshot()).allowed, 4, 'the base window');
    // Calls that started beside others (2 and 3 in flight) finish first: they set nothing.
    for (const inFlightAtStart of [2, 3])
      lim.observeLatency({ ...first, inFlightAtStart, acquiredAt: Date.now() }, sample(2000));
    await sleep(200);
    assert.equal((await lim.snapshot()).state.baseLatency, undefined, 'no call started alone yet');
    // The one that started alone (the default baseSamples: one) sets the unloaded latency.
    lim.observeLatency({ ...first, inFlightAtStart: 1, acquiredAt: Date.now() }, sample(1000));
    for (let i = 0; i < 200 && lim.latencyDecisions.length === 0; i++) await sleep(20);
    assert.equal(lim.latencyDecisions[0]?.verdict.kind, 'room');
    for (let i = 0; i < 100 && (await lim.snapshot()).state.baseLatency === undefined; i++) await sleep(20);
    let s = await lim.snapshot();
    assert.equal(s.state.baseLatency, 1000 / (20 + 400 / 4 + 100), 'the lone call set it');
    assert.deepEqual([s.slowStart, s.confirmed, s.allowed], [true, 0, 4], 'still the initial window');
    // A lone call three times slower had none of ours ahead of it: it was not queued, so it confirms 1.
    lim.observeLatency({ ...first, inFlightAtStart: 1, acquiredAt: Date.now() }, sample(3000));
    await lim.recordSuccess(first);
    s = await lim.snapshot();
    assert.deepEqual(
      [s.confirmed, s.allowed],
      [1, 4],
      'slow start grows past the window from what is confirmed',
    );
    await lim.release(first);
  });

  test('latency-aware opening: 1, then 2 once served; a queued pair is judged at once and cuts to 1', async () => {
    const lim = limiter({ name: `opening-${id()}`, cap: 16, latency: { accountClientLag: false } });
    const sample = (latencyMs: number) => ({ latencyMs, promptTokens: 400, completionTokens: 100 });
    const lone = await lim.acquire();
    assert.equal((await lim.snapshot()).allowed, 1, 'the base window: one call');
    lim.observeLatency({ ...lone, inFlightAtStart: 1, acquiredAt: Date.now() }, sample(1000));
    await lim.recordSuccess(lone);
    for (let i = 0; i < 100 && (await lim.snapshot()).state.baseLatency === undefined; i++) await sleep(20);
    assert.equal((await lim.snapshot()).allowed, 2, 'a lone call served: two, not the whole window');
    // Both calls of the pair took twice as long (a server that runs them on the same cores): they
    // waited, so 2 is not confirmed, and the pair alone is a window (slow start judges what it allows).
    for (let i = 0; i < 2; i++) {
      const pair = { ...lone, heldAtAcquire: 2, inFlightAtStart: 2, acquiredAt: Date.now() };
      lim.observeLatency(pair, sample(2000));
      await lim.recordSuccess(pair);
    }
    for (let i = 0; i < 200 && lim.latencyDecisions.length < 2; i++) await sleep(20);
    const cut = lim.latencyDecisions[1]?.verdict;
    assert.deepEqual([cut?.kind, cut?.kind === 'shrink' && cut.to], ['shrink', 1]);
    for (let i = 0; i < 100 && (await lim.snapshot()).limit !== 1; i++) await sleep(20);
    const s = await lim.snapshot();
    assert.deepEqual([s.limit, s.allowed, s.confirmed], [1, 1, 1]);
    await lim.release(lone);
  });

  test('latency: slow start held at a confirmed cap judges full windows, as at a learnt limit', async () => {
    const lim = limiter({ name: `at-cap-${id()}`, cap: 4, latency: { accountClientLag: false } });
    const sample = (latencyMs: number) => ({ latencyMs, promptTokens: 400, completionTokens: 100 });
    const held = await lim.acquire();
    lim.observeLatency({ ...held, inFlightAtStart: 1, acquiredAt: Date.now() }, sample(1000));
    for (let i = 0; i < 100 && (await lim.snapshot()).state.baseLatency === undefined; i++) await sleep(20);
    // Calls served at once at 1, 2 and 4: slow start allows the whole cap, and 4 is confirmed.
    for (const heldAtAcquire of [1, 2, 4]) await lim.recordSuccess({ ...held, heldAtAcquire });
    let s = await lim.snapshot();
    assert.deepEqual([s.slowStart, s.confirmed, s.allowed], [true, 4, 4]);
    // A jittery fixed-time provider: 4 calls 1.3x the lone one are no window yet (8 are).
    const at4 = (n: number) => {
      for (let i = 0; i < n; i++)
        lim.observeLatency({ ...held, inFlightAtStart: 4, acquiredAt: Date.now() }, sample(1300));
    };
    at4(4);
    await sleep(300);
    assert.equal(lim.latencyDecisions.length, 1, 'only the lone call was judged');
    at4(4);
    for (let i = 0; i < 200 && lim.latencyDecisions.length < 2; i++) await sleep(20);
    // Judged as at a learnt limit: one less is tried (and judged by the throughput it keeps).
    const v = lim.latencyDecisions[1]?.verdict;
    assert.deepEqual(
      [v?.kind, v?.kind === 'shrink' && v.to, v?.kind === 'shrink' && v.trial],
      ['shrink', 3, true],
    );
    for (let i = 0; i < 100 && s.limit !== 3; i++) s = await lim.snapshot();
    assert.equal(s.state.limitBeforeCut, 4);
    await lim.release(held);
  });

  test('latency: a success that waited in the provider queue confirms no higher concurrency; above the opening, a window does', async () => {
    const lim = limiter({
      name: `confirm-${id()}`,
      cap: 16,
      initialWindow: 4,
      latency: { accountClientLag: false, slowStartSamples: 4, baseSamples: 4 },
    });
    const held = await lim.acquire();
    const sample = (latencyMs: number) => ({ latencyMs, promptTokens: 400, completionTokens: 100 });
    // Four calls at 4 in flight, at the unloaded latency: the unloaded latency is learnt.
    for (let i = 0; i < 4; i++)
      lim.observeLatency({ ...held, inFlightAtStart: 4, acquiredAt: Date.now() }, sample(1000));
    for (let i = 0; i < 200 && lim.latencyDecisions.length === 0; i++) await sleep(20);
    await lim.recordSuccess({ ...held, heldAtAcquire: 4 });
    assert.equal((await lim.snapshot()).confirmed, 4);
    // The fifth call took twice as long: it waited for a slot, so 5 at once is not confirmed.
    const fifth = { ...held, heldAtAcquire: 5, inFlightAtStart: 5, acquiredAt: Date.now() };
    lim.observeLatency(fifth, sample(2000));
    await lim.recordSuccess(fifth);
    let s = await lim.snapshot();
    assert.deepEqual([s.confirmed, s.allowed], [4, 5]);
    // One served at once at 5 does not confirm it either: above the opening window a call that
    // waited for a fraction of a call looks unqueued.
    const served = { ...fifth };
    lim.observeLatency(served, sample(1050));
    await lim.recordSuccess(served);
    s = await lim.snapshot();
    assert.deepEqual([s.confirmed, s.allowed], [4, 5]);
    // A window of calls at 5, its median at the unloaded latency (the fifth's 2000 ms among them), does.
    for (const ms of [1000, 1100]) lim.observeLatency(served, sample(ms));
    for (let i = 0; i < 200 && (await lim.snapshot()).confirmed < 5; i++) await sleep(20);
    s = await lim.snapshot();
    assert.deepEqual([s.confirmed, s.allowed], [5, 7], 'the window confirmed 5; slow start grows from it');
    await lim.release(held);
  });

  test('latency-aware off (refusal only): slow latency changes nothing', async () => {
    const lim = limiter({ name: `refusal-only-${id()}`, cap: 8, initialWindow: 8, latencyAware: false });
    const held = await lim.acquire();
    for (let i = 0; i < 16; i++)
      lim.observeLatency(
        { ...held, inFlightAtStart: 8, acquiredAt: Date.now() },
        { latencyMs: 10_000 + i, promptTokens: 400, completionTokens: 100 },
      );
    await sleep(200);
    assert.equal(lim.latencyDecisions.length, 0);
    const s = await lim.snapshot();
    assert.deepEqual([s.allowed, s.slowStart], [8, true]);
    await lim.release(held);
  });

  test('not adaptive: the cap holds and 429s change nothing', async () => {
    const lim = limiter({ name: `fixed-${id()}`, cap: 3, adaptive: false });
    const ps = [await lim.acquire(), await lim.acquire(), await lim.acquire()];
    await lim.recordRateLimited(ps[2]);
    const s = await lim.snapshot();
    assert.equal(s.allowed, 3);
    assert.equal(s.held, 3);
    await assert.rejects(lim.acquire(AbortSignal.timeout(300)), { name: 'TimeoutError' });
    for (const p of ps) await lim.release(p);
  });
});

describe('token budget', () => {
  test('a minute budget is shared; overflow throws LlmBudgetExhaustedError until the next minute', async () => {
    const name = `tokens-${id()}`;
    const a = limiter({ name, maxTokensPerMinute: 1000 });
    const b = limiter({ name, maxTokensPerMinute: 1000 });
    const minuteStart = Math.floor(Date.now() / 60_000) * 60_000 + 10 * 60_000;
    const now = minuteStart + 15_000;
    const minute = await a.reserveTokens(600, now);
    assert.equal(minute, minuteStart / 60_000);
    assert.equal(await b.reserveTokens(300, now), minute);
    const err = await a.reserveTokens(200, now).then(
      () => assert.fail('a reservation past the budget must be refused'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof LlmBudgetExhaustedError);
    assert.ok(err.retryAfterMs >= 45_000 && err.retryAfterMs < 46_000, `retryAfterMs ${err.retryAfterMs}`);
    // The provider reported fewer tokens than estimated: the difference is free again.
    await b.reconcileTokens(minute, -500);
    assert.equal(await a.reserveTokens(200, now), minute);
    // A new minute, a new budget.
    assert.equal(await b.reserveTokens(1000, now + 60_000), minute! + 1);
    // No budget configured: nothing is reserved.
    assert.equal(await limiter({ name }).reserveTokens(1e9, now), undefined);
    // Token items do not clutter the semaphore's reads.
    const s = await a.snapshot();
    assert.equal(s.held, 0);
  });
});
