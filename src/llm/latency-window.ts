// A window of finished provider requests as the latency signal reads it (latency-signal.ts): latency
// per unit of work, medians and their noise, throughput by Little's law, and the provider's own report
// of each call's wait for a slot where it gives one.
import type { LatencySample } from './latency-signal';

/**
 * Work of a request in decode-token equivalents: prefill runs ~4x faster than decode on CPU servers
 * and hosted ones alike; the constant stands for the fixed cost of a request.
 */
export function workUnits(s: Pick<LatencySample, 'promptTokens' | 'completionTokens'>): number {
  return 20 + s.promptTokens / 4 + s.completionTokens;
}

export function normalisedLatency(s: LatencySample): number {
  return s.latencyMs / workUnits(s);
}

export interface WindowStats {
  samples: number;
  /** Median normalised latency. */
  latency: number;
  /** Median latency in ms. */
  rawLatency: number;
  /** Lowest normalised latency. */
  minLatency: number;
  meanInFlight: number;
  /** Throughput estimate by Little's law: mean in flight over the median latency. */
  throughput: number;
  /**
   * Relative standard error of the median normalised latency, from the window's own spread (median
   * absolute deviation): how far two windows at one level differ by chance.
   */
  medianError: number;
  /** The same for the median latency in ms. */
  rawMedianError: number;
  /** Each call's relative deviation from the window's true median, per token and in ms. */
  deviations: { perToken: number[]; ms: number[] };
  /**
   * Median of latency over the time in a slot, from the provider's own report of each call's wait
   * (`queuedMs`): 1 when no call waited. Of the calls with the report (Ollama's embeddings and a timed-out
   * call have none), and undefined unless they are at least half the window.
   */
  queueRatio?: number;
}

export function windowStats(samples: readonly LatencySample[]): WindowStats | undefined {
  if (!samples.length) return undefined;
  const norm = samples.map(normalisedLatency).sort((a, b) => a - b);
  const latency = norm[Math.floor((norm.length - 1) / 2)]!;
  const raw = samples.map((x) => x.latencyMs).sort((a, b) => a - b);
  const rawLatency = raw[Math.floor((raw.length - 1) / 2)]!;
  const meanInFlight = samples.reduce((n, s) => n + s.inFlight, 0) / samples.length;
  return {
    samples: samples.length,
    latency,
    rawLatency,
    minLatency: norm[0]!,
    meanInFlight,
    throughput: meanInFlight / latency,
    medianError: medianError(norm),
    rawMedianError: medianError(raw),
    deviations: { perToken: relativeDeviations(norm), ms: relativeDeviations(raw) },
    queueRatio: queueRatio(samples),
  };
}

/** A call's latency over its time in the provider's slot, by the provider's report; else undefined. */
export function reportedQueueRatio(s: Pick<LatencySample, 'latencyMs' | 'queuedMs'>): number | undefined {
  if (s.queuedMs === undefined || s.latencyMs <= 0) return undefined;
  return s.latencyMs / Math.max(1, s.latencyMs - s.queuedMs);
}

function queueRatio(samples: readonly LatencySample[]): number | undefined {
  const known = samples.map(reportedQueueRatio).filter((r): r is number => r !== undefined);
  if (!known.length || known.length * 2 < samples.length) return undefined;
  return trueMedian(known.sort((a, b) => a - b));
}

function relativeDeviations(sorted: readonly number[]): number[] {
  const m = trueMedian(sorted);
  return m > 0 ? sorted.map((x) => Math.abs(x / m - 1)) : [];
}

/**
 * The provider's own spread (relative sigma ~ 1.4826 x the median deviation) from deviations of calls
 * known not to have queued; undefined with fewer than `min`.
 */
export function spreadOf(deviations: readonly number[], min = 6): number | undefined {
  if (deviations.length < min) return undefined;
  return 1.4826 * trueMedian([...deviations].sort((a, b) => a - b));
}

/** A window's latency over the unloaded one: the lower of the per-token and the ms ratio, and which. */
export function windowRatio(stats: WindowStats, baseLatency: number, baseRawLatency?: number) {
  const perToken = stats.latency / baseLatency;
  const inMs = baseRawLatency ? stats.rawLatency / baseRawLatency : Infinity;
  return { ratio: Math.min(perToken, inMs), byTokens: perToken <= inMs };
}

/**
 * Relative standard error of the median of `xs` (sorted): sigma ~ 1.4826 MAD, the median's ~ 1.2533
 * sigma / sqrt(n). The true medians (the mean of the middle two): the lower middle, a sample itself,
 * adds a deviation of 0 and made 4 calls look far steadier than they were.
 */
function medianError(xs: readonly number[]): number {
  const m = trueMedian(xs);
  if (m <= 0) return 0;
  const mad = trueMedian(xs.map((x) => Math.abs(x - m)).sort((a, b) => a - b));
  return (1.2533 * 1.4826 * mad) / m / Math.sqrt(xs.length);
}

function trueMedian(sorted: readonly number[]): number {
  const n = sorted.length;
  return n % 2 ? sorted[(n - 1) / 2]! : (sorted[n / 2 - 1]! + sorted[n / 2]!) / 2;
}
