// The limiter's options, its shared state's shape, what a permit is, and how many calls the state allows.
import { defaultSkewMarginMs } from '../lease-keeper';
import {
  DEFAULT_LATENCY_OPTIONS,
  type LatencyMemory,
  type LatencyOptions,
  type LatencyVerdict,
} from '../latency-signal';

export interface LimiterOptions {
  /** Name of the semaphore; one per provider account you want to protect. @default 'llm' */
  name?: string;
  /** The global cap (LLM_MAX_CONCURRENT_CALLS). */
  cap: number;
  /**
   * A permit not renewed for this long is free again (a dead worker's permits come back). The
   * config (LLM_PERMIT_LEASE_MS) asks for at least 10 s; tests of the limiter itself go lower.
   */
  leaseMs: number;
  /**
   * Clock skew tolerated between processes (lease-keeper.ts): a holder stops this much before its
   * written lease end, others take the slot this much after it. @default min(2000, leaseMs / 10)
   */
  skewMarginMs?: number;
  /** Adapt the limit to 429/503 answers. @default true */
  adaptive?: boolean;
  /**
   * Also adapt it to latency (latency-signal.ts): shrink when calls wait in the provider's queue,
   * which a queueing provider shows long before (or instead of) refusing. Needs `adaptive`. @default true
   */
  latencyAware?: boolean;
  /** Thresholds of the latency signal. @default DEFAULT_LATENCY_OPTIONS */
  latency?: Partial<LatencyOptions>;
  /** In-flight calls allowed before any success has confirmed more. @default 4 */
  initialWindow?: number;
  /**
   * Latency-aware: in-flight calls allowed while the provider's unloaded latency is unknown; slow
   * start then opens its initial window by doubling (1, 2, 4), a step each time a call is served
   * without waiting in the provider's queue. The latency is learnt from the calls that
   * started alone, or else the fastest of a window (latency-judge.ts). One call costs the provider a
   * call latency at the start; the initial window (4) overshoots more against a queueing provider
   * (quick bench, one run each: p95 1.47x and 1.80x the unloaded p95). @default 1
   */
  baseWindow?: number;
  /**
   * Slow start allows this fraction more than the highest concurrency confirmed by a success
   * (at least one more). @default 0.25
   */
  slowStartGrowth?: number;
  /** Successes at the current limit before probing one higher; doubles after a failed probe. @default 20 */
  probeAfterSuccesses?: number;
  /** Longest wait between two looks at the semaphore while waiting. @default 200 */
  maxPollMs?: number;
  /** Tokens per minute across all workers (LLM_MAX_TOKENS_PER_MINUTE). */
  maxTokensPerMinute?: number;
  /**
   * Hand a released permit to a waiting call of this process without a DynamoDB round trip, while
   * the last look at the shared state is at most this old; 0 turns handoff off. @default 1000
   */
  handoffMaxAgeMs?: number;
}

export interface LimiterState extends LatencyMemory {
  /** The cap every worker sharing this state runs with (a worker with another cap is refused). */
  cap: number;
  limit: number;
  confirmed: number;
  slowStart: boolean;
  probeSuccesses: number;
  probeInterval: number;
  lastProbeAt: number;
}

/** A latency verdict the limiter acted on (for tests, logs and the bench). */
export interface LatencyDecision {
  at: number;
  allowed: number;
  verdict: LatencyVerdict;
  latency: number;
  baseLatency: number;
  throughput: number;
  samples: number;
}

export interface Permit {
  slot: number;
  holder: string;
  /** Permits held globally when this one was granted, itself included (handed over: its first grant). */
  heldAtAcquire: number;
  /** Permits held when the current call got it (a handed-over permit: this process's last look). */
  inFlightAtStart: number;
  /** The number of permits allowed when this one was granted. */
  allowedAtAcquire: number;
  acquiredAt: number;
  /** When the lease ends unless renewed. */
  leaseUntil: number;
  /** How many times the permit went from one call of this process to the next without a round trip. */
  handoffs: number;
}

export interface LimiterSnapshot {
  held: number;
  limit: number;
  allowed: number;
  confirmed: number;
  slowStart: boolean;
}

export function applyLimiterDefaults(
  o: LimiterOptions,
): Required<Omit<LimiterOptions, 'maxTokensPerMinute' | 'latency'>> &
  Pick<LimiterOptions, 'maxTokensPerMinute'> & { latency: LatencyOptions } {
  const latencyAware = (o.adaptive ?? true) && (o.latencyAware ?? true);
  return {
    name: o.name ?? 'llm',
    cap: o.cap,
    leaseMs: o.leaseMs,
    skewMarginMs: o.skewMarginMs ?? defaultSkewMarginMs(o.leaseMs),
    adaptive: o.adaptive ?? true,
    latencyAware,
    latency: { ...DEFAULT_LATENCY_OPTIONS, ...o.latency },
    initialWindow: Math.min(o.cap, o.initialWindow ?? 4),
    baseWindow: Math.min(o.cap, o.baseWindow ?? 1),
    slowStartGrowth: o.slowStartGrowth ?? 0.25,
    probeAfterSuccesses: o.probeAfterSuccesses ?? 20,
    maxPollMs: o.maxPollMs ?? 200,
    maxTokensPerMinute: o.maxTokensPerMinute,
    handoffMaxAgeMs: o.handoffMaxAgeMs ?? 1000,
  };
}

/** The shared state before any call: the cap as the limit, slow start from nothing confirmed. */
export function initialLimiterState(o: { cap: number; probeAfterSuccesses: number }): LimiterState {
  return {
    cap: o.cap,
    limit: o.cap,
    confirmed: 0,
    slowStart: true,
    probeSuccesses: 0,
    probeInterval: o.probeAfterSuccesses,
    lastProbeAt: 0,
  };
}

/**
 * How many calls may be in flight given the shared state: the cap when not adaptive; else the
 * learned limit, and during slow start no more than `growth` (a fraction, at least one call) above
 * the highest concurrency that has been seen to succeed. Latency-aware, slow start stays at the
 * base window (one call) until the provider's unloaded latency is known.
 */
export function allowedInFlight(
  state: Pick<LimiterState, 'limit' | 'confirmed' | 'slowStart' | 'baseLatency'>,
  cap: number,
  initialWindow: number,
  adaptive: boolean,
  growth = 0.25,
  latencyAware = false,
  baseWindow = 1,
): number {
  if (!adaptive) return cap;
  const limit = Math.max(1, Math.min(cap, Math.floor(state.limit)));
  if (!state.slowStart) return limit;
  if (latencyAware && state.baseLatency === undefined) return Math.min(limit, baseWindow);
  const next = state.confirmed + Math.max(1, Math.ceil(state.confirmed * growth));
  // Latency-aware, the initial window opens by doubling from the base window, each step once a call
  // is served without waiting: a slow server's queue then costs one pair of calls, not a window.
  const opening = latencyAware
    ? Math.min(initialWindow, Math.max(baseWindow, 2 * Math.max(1, state.confirmed)))
    : initialWindow;
  return Math.min(limit, Math.max(opening, next));
}

/** `allowedInFlight` with a limiter's options (defaults applied). */
export function allowedWithOptions(
  state: Pick<LimiterState, 'limit' | 'confirmed' | 'slowStart' | 'baseLatency'>,
  o: ReturnType<typeof applyLimiterDefaults>,
): number {
  return allowedInFlight(
    state,
    o.cap,
    o.initialWindow,
    o.adaptive,
    o.slowStartGrowth,
    o.latencyAware,
    o.baseWindow,
  );
}
