// The latency signal of the adaptive limit, for providers that queue before they refuse (a real
// Ollama server queues without limit; hosted APIs queue internally before any 429). Pure functions:
// the limiter feeds them windows of finished requests and applies the verdict to the shared state.
//
// In the spirit of TCP Vegas and gradient concurrency limits:
// - a request's latency is normalised by its work (prompt and completion tokens), so big and small
//   prompts compare; the lowest normalised latency seen recently is the provider's unloaded latency;
// - by Little's law the provider's throughput is the calls in flight over the latency;
// - latency near the unloaded one: the provider has room, the limit may grow (slow start, probes);
// - latency up while the step that raised the limit brought no throughput: calls wait in the
//   provider's queue, so the limit shrinks (to what the latency says the provider serves at once);
// - latency up with throughput up too (slots sharing a machine serve more, each more slowly): hold.

import { windowRatio, type WindowStats } from './latency-window';

export { nextBase } from './unloaded-latency';
export {
  normalisedLatency,
  reportedQueueRatio,
  spreadOf,
  windowRatio,
  windowStats,
  workUnits,
  type WindowStats,
} from './latency-window';

/** One finished provider request. */
export interface LatencySample {
  latencyMs: number;
  promptTokens: number;
  completionTokens: number;
  /** Permits held (globally) when its call started, itself included. */
  inFlight: number;
  startedAt: number;
  /**
   * How long the provider says the request waited for a slot (Ollama's durations): the queue itself,
   * where the latency only suggests it. Undefined where the provider does not say.
   */
  queuedMs?: number;
}

/** What the shared state keeps of the latency signal. */
export interface LatencyMemory {
  /** Lowest normalised latency (ms per work unit) seen since `baseAt`: the unloaded latency. */
  baseLatency?: number;
  /**
   * Lowest median latency in ms seen since `baseAt`. A provider whose latency does not follow the
   * tokens (a hosted API's fixed-time calls) makes the normalised latency vary with the prompt mix;
   * queueing raises both, so a window is judged by the lower of the two ratios.
   */
  baseRawLatency?: number;
  baseAt?: number;
  /**
   * Calls behind the unloaded latency (one lone call at the start, then a window's): a base from few
   * calls is as noisy as they were, and a window is compared with it allowing for that (`judgeWindow`).
   */
  baseCalls?: number;
  /** Throughput (work units per ms) measured at the current limit. */
  xAtLimit?: number;
  /** Throughput measured at the limit before the last probe raised it. */
  xBeforeProbe?: number;
  /**
   * Throughput measured at the limit before the last cut by latency, and that limit: the first window
   * after the cut is judged by them (`judgeCut`).
   */
  xBeforeCut?: number;
  limitBeforeCut?: number;
  /** The last cut by latency ended slow start: undone all the way, slow start goes on. */
  slowStartBeforeCut?: boolean;
  /**
   * Calls the first window after a trial of one less pools before it is judged: as many as the
   * windows whose throughput `xBeforeCut` pooled, so the two compare at the same noise.
   */
  cutSamples?: number;
  /** When the limit last changed by a latency verdict: samples of calls started before are stale. */
  adjustedAt?: number;
}

export interface LatencyOptions {
  /** Latency this much above the unloaded one counts as queueing. @default 0.2 */
  tolerance: number;
  /** Throughput gain a raised limit must bring to be kept despite higher latency. @default 0.1 */
  minGain: number;
  /**
   * The unloaded latency is learnt again after this long (the provider may have changed), or after
   * `baseMaxAgeCalls` unloaded call latencies if that is longer. @default 60000
   */
  baseMaxAgeMs: number;
  /**
   * A slow provider's windows take minutes (a CPU server's 16 s calls: 4 samples at one call = 64 s),
   * so the unloaded latency lives at least this many of its calls; otherwise every window would be
   * judged against itself and read as room. @default 20
   */
  baseMaxAgeCalls: number;
  /** Samples a window needs before it is judged. @default 8 */
  minSamples: number;
  /**
   * Samples a window needs during slow start: the limit grows every call latency there, so the
   * queue it overshoots into must be seen early. @default 4
   */
  slowStartSamples: number;
  /**
   * Samples that set the unloaded latency while none is known: calls that started alone (the first
   * of a run). One is enough to start: a lower window median replaces it later (`nextBase`). @default 1
   */
  baseSamples: number;
  /**
   * Discount this process's own event-loop lag from the window's latency: a CPU-starved client
   * measures its own delay, which says nothing about the provider's queue. @default true
   */
  accountClientLag: boolean;
}

export const DEFAULT_LATENCY_OPTIONS: LatencyOptions = {
  tolerance: 0.2,
  minGain: 0.1,
  baseMaxAgeMs: 60_000,
  baseMaxAgeCalls: 20,
  minSamples: 8,
  slowStartSamples: 4,
  baseSamples: 1,
  accountClientLag: true,
};

export type LatencyVerdict =
  | { kind: 'room' }
  /**
   * `rebase`: this window's latency is the provider's own unloaded latency from now on;
   * `restoreTo`: and the limit goes back to what it was before a trial of one less.
   */
  | {
      kind: 'hold';
      reason: string;
      rebase?: boolean;
      restoreTo?: number;
      /** Latency a little up, and one less not yet worth a trial: the next such window adds evidence. */
      suspected?: boolean;
    }
  /**
   * `trial`: one less, to see whether latency falls. Every cut is judged by the throughput it keeps
   * (`judgeCut`), except `probeUndo`: back to the level below a probe that did not pay.
   */
  | { kind: 'shrink'; to: number; reason: string; trial?: boolean; probeUndo?: boolean };

export interface JudgeContext {
  memory: LatencyMemory;
  /** The unloaded latency to compare with (`nextBase`). */
  baseLatency: number;
  /** The unloaded latency in ms (`nextBase`); the lower of the two ratios is the window's. */
  baseRawLatency?: number;
  /** Calls behind the unloaded latency (`nextBase`). @default as many as the window's */
  baseCalls?: number;
  /**
   * The provider's relative spread (sigma) in windows at the unloaded latency, per token and in ms
   * (`spreadOf`): its jitter, without a queue's spread. Unknown: the judged window's own spread.
   */
  unqueuedSpread?: { perToken?: number; ms?: number };
  /** Calls allowed in flight when the window ran. */
  limit: number;
  slowStart: boolean;
  /** The highest level a call was served at without waiting in the provider's queue. @default 0 */
  confirmed?: number;
  /**
   * Windows in a row at this limit, this one included, whose latency was a little up (`trialOfOneLess`):
   * their pooled throughput is `xBeforeCut` of a trial, which sees a loss `sqrt` of them finer. @default 1
   */
  evidenceWindows?: number;
  /** Worst event-loop lag of this process while the window's calls ran (ms). @default 0 */
  clientLagMs?: number;
  /** Median wall-clock latency of the window's requests (ms). */
  medianLatencyMs?: number;
}

/**
 * The first window after a cut from `limitBeforeCut` to `limit`, whatever its latency. Calls that
 * waited in the provider's queue cost no throughput when the limit comes down; calls the provider
 * served at once cost it in proportion (1 - limit / limitBeforeCut). A cut that lost more than half
 * of that proportion was read from noise or from the provider's own latency
 * (a hosted API's jitter; slots that share a machine): back up to what the throughput says the
 * provider serves at once (Little's law: limit x the throughput ratio), and, all the way back, this
 * latency is the unloaded one from now on. Less than that: the cut stands.
 */
function judgeCut(stats: WindowStats, memory: LatencyMemory, limit: number) {
  const { xBeforeCut, limitBeforeCut } = memory;
  if (!xBeforeCut || !limitBeforeCut || limitBeforeCut <= limit || stats.throughput <= 0) return undefined;
  const loss = 1 - stats.throughput / xBeforeCut;
  if (loss < (1 - limit / limitBeforeCut) / 2) return undefined;
  const served = Math.round((limit * xBeforeCut) / stats.throughput);
  const to = Math.min(limitBeforeCut, Math.max(limit + 1, served));
  return {
    kind: 'hold',
    rebase: to === limitBeforeCut,
    restoreTo: to,
    reason: `the cut from ${limitBeforeCut} to ${limit} lost ${Math.round(loss * 100)}% throughput: calls were served, not queued; back to ${to}`,
  } satisfies LatencyVerdict;
}

/**
 * Latency a little above the tolerance with nothing measured below: the limit may sit one above
 * what the provider serves at once (one call always waiting), so try one less; `judgeCut` undoes it
 * if it costs throughput (at a limit L with flat latency one less loses 1/L; queueing loses none).
 * Only where `judgeCut` can see that loss: it undoes a cut that lost half of 1/L, which must exceed
 * the `noise` two windows' throughputs differ by (twice sqrt(2) x the median's error, from the
 * provider's own spread: a queue's spread in the window would hide the queue it shows). Under a
 * jittery provider at a high limit (800 +- 200 ms calls at 16: 1/32 against ~25%) the loss is hidden,
 * every trial stood, and the limit walked down to 3-4 of 16 (the scale bench: efficiency 0.31-0.35);
 * so hold there (`suspected`). Windows in a row that stay a little up pool their evidence (the noise
 * falls with the square root of their number, `evidenceWindows`): a queue keeps every window up, jitter
 * against a base pooled from many calls seldom lifts two in a row (7 against 4 slots at +-10%: one
 * window's noise 9% against the 7% half of 1/7 would lose, so the queue of 3 held for good).
 */
function trialOfOneLess(limit: number, why: string, noise: number): LatencyVerdict {
  if (limit <= 1) return { kind: 'hold', reason: `${why}, already at one call` };
  if (1 / (2 * limit) < noise)
    return {
      kind: 'hold',
      suspected: true,
      reason: `${why}, but one less of ${limit} would lose ${(100 / limit).toFixed(1)}%, and half of that is within the provider's noise (±${(noise * 100).toFixed(0)}%)`,
    };
  return {
    kind: 'shrink',
    to: limit - 1,
    trial: true,
    reason: `${why}, nothing measured below: try one less`,
  };
}

/**
 * How far above the unloaded latency a window's median may sit and still be the provider's own
 * jitter: `threshold` over the window's `raw` ratio (`windowRatio`), with `error` the relative
 * standard error of that ratio.
 */
export function latencyAllowance(
  stats: WindowStats,
  {
    baseLatency,
    baseRawLatency,
    baseCalls = stats.samples,
    unqueuedSpread,
  }: Pick<JudgeContext, 'baseLatency' | 'baseRawLatency' | 'baseCalls' | 'unqueuedSpread'>,
  o: LatencyOptions = DEFAULT_LATENCY_OPTIONS,
) {
  const { ratio: raw, byTokens } = windowRatio(stats, baseLatency, baseRawLatency);
  // The noise is the provider's own where calls at the unloaded latency have shown it: a queue spreads
  // the window it makes, and read from there the allowance hid slow start's overshoot (quick bench, 4
  // slots: windows at 1.37-1.63x judged within their noise, p95 1.75x).
  const spread = byTokens ? unqueuedSpread?.perToken : unqueuedSpread?.ms;
  const own = byTokens ? stats.medianError : stats.rawMedianError;
  const error = spread === undefined ? own : (1.2533 * spread) / Math.sqrt(stats.samples);
  // The window's median and the base differ by chance by the median's error x sqrt(1 + n / calls
  // behind the base): up to twice that over the tolerance is jitter, not a queue. A fixed-time
  // provider's +-25% read as queueing cut slow start at 8 of 16 and undid every probe (scale bench: 6
  // of 16, efficiency 0.32).
  const behind = stats.samples / Math.max(1, baseCalls);
  const noise = 2 * error * Math.sqrt(1 + behind);
  return { raw, byTokens, error, threshold: 1 + o.tolerance + noise };
}

/**
 * Judges one window. The first after a cut judges the cut by its throughput (`judgeCut`). A shrink
 * after a probe that brought no throughput undoes it. One in slow start
 * (or with latency more than twice the unloaded one) goes to what the provider serves at once: the
 * calls in flight scaled by how much longer they took than unloaded ones. Latency a little up with
 * nothing to compare against tries one less (`trialOfOneLess`), which stops where it costs throughput.
 */
export function judgeWindow(
  stats: WindowStats,
  ctx: JudgeContext,
  o: LatencyOptions = DEFAULT_LATENCY_OPTIONS,
): LatencyVerdict {
  const {
    memory,
    limit,
    slowStart,
    confirmed = 0,
    clientLagMs = 0,
    medianLatencyMs = 0,
    evidenceWindows = 1,
  } = ctx;
  const { raw, error, threshold } = latencyAllowance(stats, ctx, o);
  // The share of the latency this process's own lag may explain is not the provider's queue.
  const lagShare =
    o.accountClientLag && medianLatencyMs > 0 ? Math.min(0.9, clientLagMs / medianLatencyMs) : 0;
  const latencyRatio = raw * (1 - lagShare);
  const undo = judgeCut(stats, memory, limit);
  if (undo) return undo;
  // The provider's own report that the calls waited for a slot (Ollama's durations) needs no unloaded
  // latency to compare with, so a call mix that makes the median per token low cannot hide it (quick
  // bench, 4 slots: windows at 6.5 in flight read 1.02x the unloaded latency per token).
  const queue = stats.queueRatio !== undefined && stats.queueRatio > 1 + o.tolerance ? stats.queueRatio : 0;
  if (!queue && raw > threshold && latencyRatio <= threshold)
    return {
      kind: 'hold',
      reason: `latency ${raw.toFixed(2)}x unloaded, but this process's event loop lagged ${Math.round(clientLagMs)} ms: the client is CPU-starved, which says nothing about the provider`,
    };
  if (!queue && latencyRatio <= threshold) return { kind: 'room' };
  const ratio = Math.max(latencyRatio, queue);
  const why = queue
    ? `calls waited for a slot (latency ${queue.toFixed(2)}x their time in it, by the provider) at ${stats.meanInFlight.toFixed(1)} in flight`
    : `latency ${ratio.toFixed(2)}x unloaded at ${stats.meanInFlight.toFixed(1)} in flight`;
  if (memory.xBeforeProbe) {
    const gain = stats.throughput / memory.xBeforeProbe - 1;
    const pct = `${gain >= 0 ? '+' : ''}${Math.round(gain * 100)}%`;
    if (gain >= o.minGain) return { kind: 'hold', reason: `${why}, throughput ${pct} over the last step` };
    return {
      kind: 'shrink',
      to: Math.max(1, limit - 1),
      probeUndo: true,
      reason: `${why}, throughput ${pct}: the probe did not pay`,
    };
  }
  // A queue the provider reports is no guess: no trial, the cut goes where Little's law says.
  if (!slowStart && ratio <= 2 && !queue)
    return trialOfOneLess(limit, why, (2 * Math.SQRT2 * error) / Math.sqrt(evidenceWindows));
  // Little's law, rounded: the old floor(1.2 x in flight / ratio) landed one above a queueing
  // provider's parallelism whenever the estimate came 4% over it (4.17 -> 5 against 4 slots). A cut
  // too deep for calls the provider served is undone by `judgeCut`.
  const served = Math.round(stats.meanInFlight / ratio);
  // Slow start never cuts below the level calls served without waiting have confirmed: a window that
  // says less mixes calls started at lower levels or is jitter (scale bench: a window of 4 calls at
  // 4.8 in flight cut 9 to 3, where calls at 7 and 8 had just been served at once).
  const floor = slowStart ? Math.min(confirmed, limit - 1) : 1;
  const to = Math.max(1, floor, Math.min(limit - 1, served));
  return { kind: 'shrink', to, reason: `${why}: the provider serves about ${to} at once` };
}
