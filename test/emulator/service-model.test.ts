// The queueing provider model's parts: the pure service-time function and the FIFO slots that share a machine.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  ServiceSlots,
  type ServiceSlot,
  type SlotOutcome,
  type SlotSettings,
} from '../../dev/emulator/service-slots';
import { serviceTimeMs, slotSpeed, soloWorkMs, type ServiceRates } from '../../dev/emulator/service-time';
import { DEFAULT_EMULATOR_SETTINGS } from '../../dev/emulator/settings';

const rates: ServiceRates = {
  latencyMs: 20,
  prefillTokensPerS: 300,
  decodeTokensPerS: 70,
  parallelSpeedup: 1.4,
};

void describe('serviceTimeMs', () => {
  void test('one slot alone: overhead + prompt at the prefill rate + completion at the decode rate', () => {
    assert.equal(soloWorkMs({ promptTokens: 600, completionTokens: 140 }, rates), 2000 + 2000);
    assert.equal(serviceTimeMs({ promptTokens: 600, completionTokens: 140, busySlots: 1 }, rates), 4020);
    assert.equal(
      serviceTimeMs({ promptTokens: 300, completionTokens: 0, busySlots: 1 }, rates),
      1020,
      'embeddings only prefill',
    );
  });

  void test('slots share the machine: two run 0.7 as fast each, 1.4 times the throughput of one', () => {
    const load = { promptTokens: 300, completionTokens: 70 };
    const one = serviceTimeMs({ ...load, busySlots: 1 }, { ...rates, latencyMs: 0 });
    const two = serviceTimeMs({ ...load, busySlots: 2 }, { ...rates, latencyMs: 0 });
    assert.ok(Math.abs(two - one / 0.7) < 1e-9, `${two} vs ${one / 0.7}`);
    assert.ok(Math.abs((2 * one) / two - 1.4) < 1e-9, 'throughput of two slots over one');
    assert.equal(slotSpeed(4, rates), 0.35);
  });

  void test('speed never exceeds one slot alone, and parallelSpeedup >= k means no sharing', () => {
    assert.equal(slotSpeed(1, rates), 1);
    assert.equal(slotSpeed(0, rates), 1);
    assert.equal(slotSpeed(2, { parallelSpeedup: 4 }), 1);
    assert.equal(slotSpeed(8, { parallelSpeedup: 4 }), 0.5);
  });

  void test('the defaults resemble the measured 2-core Ollama: 2 slots give 1.3 to 1.5 times one', () => {
    const d = DEFAULT_EMULATOR_SETTINGS;
    assert.equal(d.prefillTokensPerS, 300);
    assert.equal(d.decodeTokensPerS, 70);
    const ratio = 2 * slotSpeed(2, d);
    assert.ok(ratio >= 1.3 && ratio <= 1.5, `ratio ${ratio}`);
  });
});

/** An observer that keeps the counts the metrics would. */
function countingObserver() {
  const counts = { queued: 0, inFlight: 0, inFlightMax: 0 };
  return {
    counts,
    observer: {
      enqueue: () => void counts.queued++,
      dequeue: () => void counts.queued--,
      enter: () => {
        counts.inFlight++;
        counts.inFlightMax = Math.max(counts.inFlightMax, counts.inFlight);
      },
      leave: () => void counts.inFlight--,
    },
  };
}

function slotsWith(settings: Partial<SlotSettings>, now?: () => number) {
  const s: SlotSettings = { parallel: 2, maxQueue: 0, parallelSpeedup: 1.4, ...settings };
  const { counts, observer } = countingObserver();
  return { s, counts, slots: new ServiceSlots(() => s, observer, now) };
}

/** A clock at 0 until started, then real milliseconds: work begun before start() begins at one instant. */
function startableClock() {
  let startedAt: number | undefined;
  return {
    now: () => (startedAt === undefined ? 0 : performance.now() - startedAt),
    start: () => void (startedAt = performance.now()),
  };
}

function served(outcome: SlotOutcome) {
  assert.equal(outcome.kind, 'served');
  return (outcome as Extract<SlotOutcome, { kind: 'served' }>).slot;
}

const never = new AbortController().signal;

void describe('ServiceSlots', () => {
  void test('serves `parallel` at once and hands freed slots to waiters in arrival order', async () => {
    const { slots, counts } = slotsWith({ parallel: 2 });
    const first = served(await slots.take(never));
    const second = served(await slots.take(never));
    const order: number[] = [];
    const [w3, w4, w5] = [3, 4, 5].map((n) =>
      slots.take(never).then((o) => {
        order.push(n);
        return served(o);
      }),
    ) as [Promise<ServiceSlot>, Promise<ServiceSlot>, Promise<ServiceSlot>];
    assert.equal(counts.queued, 3);
    assert.equal(counts.inFlight, 2);
    second.release();
    second.release(); // a second release frees nothing more
    const third = await w3;
    first.release();
    const fourth = await w4;
    third.release();
    fourth.release();
    (await w5).release();
    assert.deepEqual(order, [3, 4, 5]);
    assert.equal(counts.inFlightMax, 2);
    assert.deepEqual([counts.queued, counts.inFlight], [0, 0]);
  });

  void test('a full queue answers queue-full at once; an aborted waiter frees its place', async () => {
    const { slots, counts } = slotsWith({ parallel: 1, maxQueue: 1 });
    const busy = served(await slots.take(never));
    const leaving = new AbortController();
    const waiting = slots.take(leaving.signal);
    assert.equal((await slots.take(never)).kind, 'queue-full');
    leaving.abort();
    assert.equal((await waiting).kind, 'aborted');
    assert.equal(counts.queued, 0);
    const next = slots.take(never);
    assert.equal(counts.queued, 1, 'the freed place takes a new waiter');
    busy.release();
    served(await next).release();
    assert.equal(counts.inFlight, 0);
  });

  void test('raising `parallel` live lets waiters in on the next pump', async () => {
    const { slots, s } = slotsWith({ parallel: 1 });
    const a = served(await slots.take(never));
    const b = slots.take(never);
    s.parallel = 2;
    slots.pump();
    const bSlot = served(await b);
    a.release();
    bSlot.release();
    assert.equal(slots.busy, 0);
  });

  void test('shared compute: the shorter of two started together finishes first; equal work in start order', async () => {
    // Each round's computations begin at one instant of the model's clock, so a stall of this process
    // between them (a loaded machine) cannot give one a head start; a late timer finds them in finish order.
    const finishOrder = async (jobs: [name: string, work: number][]) => {
      const clock = startableClock();
      const { slots } = slotsWith({ parallel: 3, parallelSpeedup: 1 }, clock.now);
      const held = await Promise.all(jobs.map(async () => served(await slots.take(never))));
      const done: string[] = [];
      const computing = jobs.map(([name, work], i) =>
        held[i]!.compute(work, never).then(() => {
          done.push(name);
          held[i]!.release();
        }),
      );
      clock.start();
      await Promise.all(computing);
      return done;
    };
    assert.deepEqual(
      await finishOrder([
        ['long', 30],
        ['short', 5],
      ]),
      ['short', 'long'],
    );
    assert.deepEqual(
      await finishOrder([
        ['a', 10],
        ['b', 10],
        ['c', 10],
      ]),
      ['a', 'b', 'c'],
    );
  });

  void test('an aborted computation ends at once and close() ends every wait', async () => {
    const { slots, counts } = slotsWith({ parallel: 1 });
    const slot = served(await slots.take(never));
    const stop = new AbortController();
    const computing = slot.compute(60_000, stop.signal);
    const waiting = slots.take(never);
    stop.abort();
    await computing;
    slots.close();
    assert.equal((await waiting).kind, 'aborted');
    assert.equal(counts.queued, 0);
    slot.release();
  });
});
