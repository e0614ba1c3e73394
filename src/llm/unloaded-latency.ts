// The unloaded latency the latency signal compares each window with (`judgeWindow`): learnt from the
// windows read at it, kept in the limiter's shared state.
import type { LatencyMemory, LatencyOptions, WindowStats } from './latency-signal';

/** Calls the unloaded latency pools at most: older windows then weigh less, so it follows a drift. */
const BASE_POOL_CALLS = 64;

/**
 * The unloaded latency after this window: the mean of the window medians read at the unloaded
 * latency, each weighed by its calls (up to `BASE_POOL_CALLS`), or this window's once the old one is
 * stale. A window pools when it is below the base, or within the tolerance at a level where no queue
 * of ours can have raised it (`unqueuedLevel`: below every level a latency cut has gone to); per
 * token and in ms each by its own ratio. The lowest median seen, as it was, sits about two errors
 * below the provider's typical latency and rests on few calls (one lone call, a pair): windows read
 * 1.3x against it under plain jitter, and the allowance that covered that let 6 calls at once
 * against 4 slots pass as unloaded (llm-layer-learning: a queue of 1.3-1.7 held).
 */
export function nextBase(
  memory: LatencyMemory,
  stats: WindowStats,
  now: number,
  o: LatencyOptions,
  unqueuedLevel = true,
) {
  const maxAge = Math.max(o.baseMaxAgeMs, o.baseMaxAgeCalls * (memory.baseRawLatency ?? 0));
  const stale = memory.baseAt === undefined || now - memory.baseAt > maxAge;
  const own = {
    baseLatency: stats.latency,
    baseRawLatency: stats.rawLatency,
    baseAt: now,
    baseCalls: stats.samples,
  };
  if (memory.baseLatency === undefined || stale) return own;
  const calls = memory.baseCalls ?? 1;
  const weight = Math.max(0, Math.min(calls, BASE_POOL_CALLS - stats.samples));
  // Far below the base (beyond the tolerance): the base was no unloaded latency (a cold first call).
  if (stats.latency / memory.baseLatency < 1 - o.tolerance) return own;
  const unloaded = (ratio: number) => ratio < 1 || (unqueuedLevel && ratio <= 1 + o.tolerance);
  const pool = (base: number, window: number) =>
    (base * weight + window * stats.samples) / (weight + stats.samples);
  const rawBase = memory.baseRawLatency ?? stats.rawLatency;
  const pooled = unloaded(stats.latency / memory.baseLatency);
  return {
    baseLatency: pooled ? pool(memory.baseLatency, stats.latency) : memory.baseLatency,
    baseRawLatency: unloaded(stats.rawLatency / rawBase) ? pool(rawBase, stats.rawLatency) : rawBase,
    baseAt: pooled ? now : memory.baseAt!,
    baseCalls: pooled ? weight + stats.samples : calls,
  };
}
