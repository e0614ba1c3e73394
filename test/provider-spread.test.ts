// The provider's own spread as the latency judge keeps it: read only below the levels a latency cut
// doubted, so a queue's spread does not pass for jitter.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { windowStats, type LatencySample } from '../src/llm/latency-signal';
import { ProviderSpread } from '../src/llm/limiter/provider-spread';

/** 4 calls at `inFlight`, 1000 ms +- `spread` (a share), evenly spread. */
function window(inFlight: number, spread: number) {
  const samples: LatencySample[] = [-1, -1 / 3, 1 / 3, 1].map((d, i) => ({
    latencyMs: 1000 * (1 + d * spread),
    promptTokens: 400,
    completionTokens: 100,
    inFlight,
    startedAt: i,
  }));
  return windowStats(samples)!;
}

test('a cut forgets the spread read at or above its level; undone, those levels count again', () => {
  const s = new ProviderSpread();
  assert.equal(s.spread().ms, undefined, 'nothing seen yet');
  s.remember(window(3, 0.03), true);
  const calm = s.spread().ms!;
  assert.ok(calm > 0 && calm < 0.05, `calm ${calm}`);
  // Slow start's windows at 6 in flight, a queue spreading them (median still within the tolerance).
  s.remember(window(6, 0.3), true);
  s.remember(window(6, 0.3), true);
  assert.ok(s.spread().ms! > 0.1, `with the queue's spread ${s.spread().ms}`);
  // The overshoot is cut to 5: what was read at 6 may have been that queue.
  s.cutTo(5);
  assert.equal(s.spread().ms, calm);
  assert.deepEqual([s.unqueuedAt(4), s.unqueuedAt(4.5), s.unqueuedAt(5)], [true, false, false]);
  s.remember(window(6, 0.3), true);
  assert.equal(s.spread().ms, calm, 'not read at a doubted level');
  s.remember(window(2, 0.3), false);
  assert.equal(s.spread().ms, calm, 'not read from a window above the unloaded latency');
  // The cut lost throughput and was undone all the way: 6 was served, not queued.
  s.cutUndone();
  s.remember(window(6, 0.3), true);
  s.remember(window(6, 0.3), true);
  assert.ok(s.spread().ms! > 0.1);
});
