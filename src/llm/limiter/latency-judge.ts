// The limiter's side of the latency signal (latency-signal.ts judges): this process's window of
// finished requests, judged against the shared state once full, and the verdict applied to it.
import { ClientLag } from '../client-lag';
import {
  judgeWindow,
  latencyAllowance,
  nextBase,
  normalisedLatency,
  reportedQueueRatio,
  windowStats,
  type JudgeContext,
  type LatencyOptions,
  type LatencySample,
  type LatencyVerdict,
} from '../latency-signal';
import type { LatencyDecision, LimiterState } from './options';
import { ProviderSpread } from './provider-spread';

/** What the judge needs of its limiter. */
export interface LatencyJudgeHost {
  readonly latency: LatencyOptions;
  /** The shared state now and the calls it allows. */
  snapshot(): Promise<{ state: LimiterState; allowed: number }>;
  /** The shared state as last read (undefined before the first read), and the calls it allowed. */
  seen(): { state?: LimiterState; allowed: number };
  updateState(update: string, condition: string, values: Record<string, unknown>): Promise<void>;
  /** The state now allows more calls (the unloaded latency learnt, a cut undone): waiters look now. */
  allowsMore(): void;
  /** This process obeys a lowered limit at once. */
  lowerLocalView(allowed: number): void;
  /** Calls were served at `level` without waiting: slow start may grow past it. */
  confirm(level: number): Promise<void>;
  trace(what: string, detail: Record<string, unknown>): void;
}

export class LatencyJudge {
  /** Finished requests of this process not yet judged. */
  private window: LatencySample[] = [];
  /** This process's event-loop lag while the window ran (a starved client's latency is its own). */
  private readonly clientLag = new ClientLag();
  private judging = false;
  /** The verdicts this process acted on, newest last (bounded). */
  readonly decisions: LatencyDecision[] = [];

  constructor(private readonly host: LatencyJudgeHost) {}

  /**
   * Permits whose last request waited in the provider's queue: the success of such a call proves the
   * provider answered, not that it served that many at once.
   */
  private readonly queued = new WeakSet<object>();

  /** Windows in a row at one limit whose latency was a little up, and their summed throughput. */
  private suspected = { level: 0, windows: 0, throughput: 0 };

  /** The provider's own jitter, read where no queue of ours can have spread the calls. */
  private readonly spread = new ProviderSpread();

  /** A finished request under `permit`: remembered as queued or not, then observed. */
  observeRequest(permit: object, sample: LatencySample): void {
    if (this.waitedInProviderQueue(sample)) this.queued.add(permit);
    else this.queued.delete(permit);
    this.observe(sample);
  }

  /** Whether the last request under `permit` waited in the provider's queue (then forgotten). */
  takeQueued(permit: object): boolean {
    const queued = this.queued.has(permit);
    this.queued.delete(permit);
    return queued;
  }

  /**
   * Longer than the unloaded latency allows, beyond what this process's own event-loop lag explains
   * (a CPU-starved client must not read its own delay as a queue).
   */
  private waitedInProviderQueue(sample: LatencySample): boolean {
    // The provider's own report, where it gives one (Ollama): the call waited for a slot.
    const reported = reportedQueueRatio(sample);
    if (reported !== undefined && reported > 1 + this.host.latency.tolerance) return true;
    const { baseLatency: norm, baseRawLatency: raw } = this.host.seen().state ?? {};
    // A call that started alone had none of ours ahead of it: slow, it was not queued behind us.
    if (norm === undefined || sample.inFlight <= 1) return false;
    const lagMs = this.host.latency.accountClientLag ? this.clientLag.peekMaxMs() : 0;
    const own = { ...sample, latencyMs: Math.max(0, sample.latencyMs - lagMs) };
    const ratio = Math.min(normalisedLatency(own) / norm, raw ? own.latencyMs / raw : Infinity);
    return ratio > 1 + this.host.latency.tolerance;
  }

  /** A finished request: judged with the others once the window is full. */
  observe(sample: LatencySample): void {
    this.clientLag.start();
    this.window.push(sample);
    this.maybeJudge();
  }

  /** Judges the window once it is full; samples that came in during a judgement are judged next. */
  private maybeJudge(): void {
    if (this.judging || this.window.length < this.windowSize()) return;
    this.judging = true;
    void this.judge()
      .catch(() => undefined)
      .finally(() => {
        this.judging = false;
        this.maybeJudge();
      });
  }

  /**
   * Samples judged at once: fewer while slow start still raises the limit every call latency (no
   * more than the calls it allows, at least two: a slow server's queue shows in its first pair, not
   * after two rounds of it), and fewest while the unloaded latency is unknown (slow start stays at
   * its base window until then).
   */
  private windowSize(): number {
    const l = this.host.latency;
    const { state, allowed } = this.host.seen();
    if (state?.baseLatency === undefined) return l.baseSamples;
    if (state.limitBeforeCut !== undefined && state.cutSamples !== undefined)
      return Math.min(MAX_CUT_SAMPLES, Math.max(l.minSamples, state.cutSamples));
    if (!growing(state, allowed)) return l.minSamples;
    return Math.min(l.slowStartSamples, Math.max(2, allowed));
  }

  private async judge(): Promise<void> {
    const snap = await this.host.snapshot();
    const { state } = snap;
    // Calls that started before the limit last changed ran at another level: they prove nothing now.
    const since = state.adjustedAt ?? 0;
    const samples = this.window.filter((x) => x.startedAt >= since);
    this.window = samples;
    const unknownBase = state.baseLatency === undefined;
    const judged = unknownBase ? unloadedSamples(samples, this.host.latency) : samples;
    const stats = windowStats(judged);
    if (!stats || (!unknownBase && stats.samples < this.windowSize())) return;
    this.window = [];
    const now = Date.now();
    // A latency cut (any process's) awaiting its judgement: the levels from there up may queue.
    if (state.limitBeforeCut !== undefined) this.spread.cutTo(state.limit);
    const base = nextBase(state, stats, now, this.host.latency, this.spread.unqueuedAt(stats.meanInFlight));
    const context: JudgeContext = {
      memory: state,
      baseLatency: base.baseLatency,
      baseRawLatency: base.baseRawLatency,
      baseCalls: base.baseCalls,
      unqueuedSpread: this.spread.spread(),
      limit: snap.allowed,
      slowStart: growing(state, snap.allowed),
      confirmed: state.confirmed,
      clientLagMs: this.clientLag.takeMaxMs(),
      medianLatencyMs: median(samples.map((x) => x.latencyMs)),
      evidenceWindows: this.suspected.level === snap.allowed ? this.suspected.windows + 1 : 1,
    };
    const verdict = judgeWindow(stats, context, this.host.latency);
    this.decisions.push({
      at: now,
      allowed: snap.allowed,
      verdict,
      latency: stats.latency,
      baseLatency: base.baseLatency,
      throughput: stats.throughput,
      samples: stats.samples,
    });
    if (this.decisions.length > 200) this.decisions.shift();
    const { raw, threshold, error } = latencyAllowance(stats, context, this.host.latency);
    this.spread.remember(stats, raw <= 1 + this.host.latency.tolerance);
    this.host.trace('latency', {
      allowed: snap.allowed,
      ...verdict,
      ratio: raw,
      threshold,
      error,
      baseCalls: base.baseCalls,
      inFlight: stats.meanInFlight,
      queueRatio: stats.queueRatio,
    });
    // A trial's throughput before it: the pooled windows'; the first window after it pools as many.
    const evidence = context.evidenceWindows ?? 1;
    const pooledX =
      evidence > 1 ? (this.suspected.throughput + stats.throughput) / evidence : stats.throughput;
    this.trackSuspicion(verdict, snap.allowed, stats.throughput, context.clientLagMs ?? 0);
    const applied = {
      state,
      allowed: snap.allowed,
      since,
      now,
      base,
      throughput: verdict.kind === 'shrink' && verdict.trial ? pooledX : stats.throughput,
      cutSamples: verdict.kind === 'shrink' && verdict.trial ? evidence * stats.samples : undefined,
      latency: stats.latency,
      rawLatency: stats.rawLatency,
      samples: stats.samples,
    };
    if (verdict.kind === 'shrink') this.spread.cutTo(verdict.probeUndo ? snap.allowed : verdict.to);
    if (verdict.kind === 'hold' && verdict.rebase === true && verdict.restoreTo !== undefined)
      this.spread.cutUndone();
    if (verdict.kind === 'shrink') await this.shrink(verdict, applied);
    else await this.keep(verdict, applied);
    // Slow start above the opening window: a window read as room confirms the level most of its calls
    // started at (one call there, served while one ahead of it finished, passed for unqueued).
    if (verdict.kind === 'room' && context.slowStart && !unknownBase) {
      // (The lower middle of the permits held at their starts: a level at least half of them reached.)
      const level = Math.min(snap.allowed, median(judged.map((x) => x.inFlight)));
      if (level > state.confirmed) await this.host.confirm(level);
    }
  }

  /** Counts windows in a row at one level that were a little up; anything else starts again. */
  private trackSuspicion(verdict: LatencyVerdict, level: number, throughput: number, lagMs: number): void {
    // A window this process's own lag explains says nothing either way.
    if (verdict.kind === 'hold' && !verdict.suspected && lagMs > 0 && verdict.restoreTo === undefined) return;
    if (verdict.kind === 'hold' && verdict.suspected) {
      if (this.suspected.level !== level) this.suspected = { level, windows: 0, throughput: 0 };
      this.suspected.windows++;
      this.suspected.throughput += throughput;
      return;
    }
    this.suspected = { level: 0, windows: 0, throughput: 0 };
  }

  /**
   * Room or hold: the unloaded latency and the throughput at this limit are remembered; a cut (if
   * any) has been judged and stands.
   */
  private async keep(verdict: LatencyVerdict, a: Applied): Promise<void> {
    if (verdict.kind === 'hold' && verdict.restoreTo !== undefined)
      return this.restore(verdict.restoreTo, verdict.rebase === true, a);
    // A rebase: the latency is the provider's own.
    const rebase = verdict.kind === 'hold' && verdict.rebase === true;
    await this.host.updateState(
      'SET baseLatency = :b, baseRawLatency = :br, baseAt = :ba, baseCalls = :bn, xAtLimit = :x ' +
        'REMOVE xBeforeCut, limitBeforeCut, slowStartBeforeCut, cutSamples',
      'attribute_exists(#l)',
      { ...baseValues(a, rebase), ':x': a.throughput },
    );
    // The first unloaded latency ends the base window: slow start begins to open its initial window.
    if (a.state.baseLatency === undefined) this.host.allowsMore();
  }

  /**
   * A cut that cost throughput: back up to `to`. `rebase` (all the way back): this latency is the
   * unloaded one from now on; part of the way, the unloaded latency stays.
   */
  private async restore(to: number, rebase: boolean, a: Applied): Promise<void> {
    // A slow-start cut undone all the way was noise: slow start goes on from where it was, up to the
    // cap (`to` is only what it allowed then: as the limit, slow start would stop there for good).
    const slowStart = rebase && a.state.slowStartBeforeCut === true;
    if (slowStart) to = a.state.cap;
    await this.host.updateState(
      'SET #l = :to, adjustedAt = :now, baseLatency = :b, baseRawLatency = :br, baseAt = :ba, baseCalls = :bn, ' +
        'xAtLimit = :x, slowStart = :ss REMOVE xBeforeCut, limitBeforeCut, slowStartBeforeCut, cutSamples',
      '#l = :cur',
      {
        ...baseValues(a, rebase),
        ':to': to,
        ':cur': a.state.limit,
        ':now': a.now,
        ':x': a.throughput,
        ':ss': slowStart,
      },
    );
    this.host.allowsMore();
  }

  private async shrink(verdict: Extract<LatencyVerdict, { kind: 'shrink' }>, a: Applied): Promise<void> {
    // A trial of one less is no failed probe: judged by the throughput it keeps, it may come back.
    const failedProbe = !verdict.trial && (a.state.slowStart || a.now - a.state.lastProbeAt < 60_000);
    // This process obeys at once: a slot above the new limit is not handed on.
    this.host.lowerLocalView(verdict.to);
    // A cut keeps the throughput and limit it is judged against (the next window); undoing a probe
    // goes back to a level already measured.
    const cut = verdict.probeUndo
      ? ''
      : ', xBeforeCut = :xc, limitBeforeCut = :lc, slowStartBeforeCut = :ssb';
    const forget = cut ? '' : ', xBeforeCut, limitBeforeCut, slowStartBeforeCut';
    // A trial is judged by a window as large as the evidence that led to it (`cutSamples`).
    const pool = a.cutSamples === undefined ? '' : ', cutSamples = :cs';
    const unpool = a.cutSamples === undefined ? ', cutSamples' : '';
    // Only if no other process changed the limit since these calls started (no double shrink).
    await this.host.updateState(
      'SET #l = :t, slowStart = :f, probeSuccesses = :zero, probeInterval = :pi, adjustedAt = :now, ' +
        `baseLatency = :b, baseRawLatency = :br, baseAt = :ba, baseCalls = :bn${cut}${pool} REMOVE xAtLimit, xBeforeProbe${forget}${unpool}`,
      'attribute_not_exists(adjustedAt) OR adjustedAt <= :since',
      {
        ...baseValues(a, false),
        ...(verdict.probeUndo ? {} : { ':xc': a.throughput, ':lc': a.allowed, ':ssb': a.state.slowStart }),
        ...(a.cutSamples === undefined ? {} : { ':cs': a.cutSamples }),
        ':t': verdict.to,
        ':f': false,
        ':zero': 0,
        ':pi': failedProbe ? Math.min(a.state.probeInterval * 2, 10_000) : a.state.probeInterval,
        ':now': a.now,
        ':since': a.since,
      },
    );
  }
}

/** The most calls a trial's judging window pools (8 windows of 8). */
const MAX_CUT_SAMPLES = 64;

interface Applied {
  state: LimiterState;
  /** Calls allowed in flight while the window ran (below the limit in slow start). */
  allowed: number;
  since: number;
  now: number;
  base: ReturnType<typeof nextBase>;
  /** Of the window, or for a trial the pooled windows' (its `xBeforeCut`). */
  throughput: number;
  /** For a trial: the calls its judging window pools. */
  cutSamples?: number;
  latency: number;
  rawLatency: number;
  samples: number;
}

/** The unloaded latency to store: the window's own on a rebase, else `nextBase`'s. */
function baseValues(a: Applied, rebase: boolean) {
  return rebase
    ? { ':b': a.latency, ':br': a.rawLatency, ':ba': a.now, ':bn': a.samples }
    : {
        ':b': a.base.baseLatency,
        ':br': a.base.baseRawLatency,
        ':ba': a.base.baseAt,
        ':bn': a.base.baseCalls,
      };
}

/**
 * Slow start above what calls served without waiting have confirmed: an overshoot may be queueing
 * there. Slow start that allows no more than is confirmed (it reached our cap, and the provider never
 * refused below it) has no overshoot to catch: its windows are full-size and judged as at a learnt
 * limit. Small windows there (4 calls' median against the lowest median seen) read a fixed-time
 * provider's jitter as queueing and cut it (quick bench, cap 4: 0.78-0.88 against refusal-only's 0.92).
 */
function growing(state: Pick<LimiterState, 'slowStart' | 'confirmed'>, allowed: number): boolean {
  return state.slowStart && allowed > state.confirmed;
}

/**
 * The samples that set the unloaded latency: calls that started alone (the first of a run), or,
 * once a slow-start window has come with none (other processes' calls were in flight), its fastest
 * call (with calls queued, the one served first). None yet: wait for more.
 */
function unloadedSamples(samples: LatencySample[], o: LatencyOptions): LatencySample[] {
  const lone = samples.filter((x) => x.inFlight <= 1);
  if (lone.length >= o.baseSamples) return lone;
  if (samples.length < Math.max(o.slowStartSamples, o.baseSamples)) return [];
  return [samples.reduce((a, b) => (normalisedLatency(b) < normalisedLatency(a) ? b : a))];
}

function median(xs: number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)] ?? 0;
}
