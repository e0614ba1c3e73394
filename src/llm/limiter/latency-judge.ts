// The limiter's side of the latency signal (latency-signal.ts judges): this process's window of
// finished requests, judged against the shared state once full, and the verdict applied to it.
import { ClientLag } from '../client-lag';
import {
  judgeWindow,
  nextBase,
  normalisedLatency,
  toleranceOf,
  windowStats,
  type LatencyOptions,
  type LatencySample,
  type LatencyVerdict,
} from '../latency-signal';
import type { LatencyDecision, LimiterState } from './options';

/** What the judge needs of its limiter. */
export interface LatencyJudgeHost {
  readonly latency: LatencyOptions;
  /** The cap: where the limit goes back to when undoing a cut resumes slow start. */
  readonly cap: number;
  /** The shared state now and the calls it allows. */
  snapshot(): Promise<{ state: LimiterState; allowed: number }>;
  /** Whether slow start is still on, as last read (undefined before the first read). */
  slowStartSeen(): boolean | undefined;
  /** The unloaded latency in the shared state, as last read: per work unit, in ms, and its spread. */
  baseLatency(): { norm?: number; raw?: number; spread?: number };
  updateState(update: string, condition: string, values: Record<string, unknown>): Promise<void>;
  /** This process obeys a lowered limit at once. */
  lowerLocalView(allowed: number): void;
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
    const { norm, raw, spread } = this.host.baseLatency();
    // A call that started alone had none of ours ahead of it: slow, it was not queued behind us.
    if (norm === undefined || sample.inFlight <= 1) return false;
    const lagMs = this.host.latency.accountClientLag ? this.clientLag.peekMaxMs() : 0;
    const own = { ...sample, latencyMs: Math.max(0, sample.latencyMs - lagMs) };
    const ratio = Math.min(normalisedLatency(own) / norm, raw ? own.latencyMs / raw : Infinity);
    return ratio > 1 + toleranceOf(this.host.latency, spread, 1);
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
   * Samples judged at once: fewer while slow start still raises the limit every call latency, and
   * fewest while the unloaded latency is unknown (slow start waits for it).
   */
  private windowSize(): number {
    const l = this.host.latency;
    if (this.host.baseLatency().norm === undefined) return l.baseSamples;
    return this.host.slowStartSeen() === false ? l.minSamples : l.slowStartSamples;
  }

  private async judge(): Promise<void> {
    const snap = await this.host.snapshot();
    const { state } = snap;
    // Calls that started before the limit last changed ran at another level: they prove nothing now.
    const since = state.adjustedAt ?? 0;
    const samples = this.window.filter((x) => x.startedAt >= since);
    this.window = samples;
    const stats = windowStats(samples);
    if (!stats || stats.samples < this.windowSize()) return;
    this.window = [];
    const now = Date.now();
    const base = nextBase(state, stats, now, this.host.latency);
    const verdict = judgeWindow(
      stats,
      {
        memory: state,
        baseLatency: base.baseLatency,
        baseRawLatency: base.baseRawLatency,
        baseSpread: base.baseSpread,
        limit: snap.allowed,
        slowStart: state.slowStart,
        clientLagMs: this.clientLag.takeMaxMs(),
        medianLatencyMs: median(samples.map((x) => x.latencyMs)),
      },
      this.host.latency,
    );
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
    this.host.trace('latency', {
      allowed: snap.allowed,
      ...verdict,
      ratio: stats.latency / base.baseLatency,
      inFlight: stats.meanInFlight,
    });
    const applied = {
      state,
      allowed: snap.allowed,
      since,
      now,
      base,
      throughput: stats.throughput,
      latency: stats.latency,
      rawLatency: stats.rawLatency,
      spread: stats.spread,
    };
    if (verdict.kind === 'shrink') await this.shrink(verdict, applied);
    else await this.keep(verdict, applied);
  }

  /** Room or hold: the unloaded latency and the throughput at this limit are remembered. */
  private async keep(verdict: LatencyVerdict, a: Applied): Promise<void> {
    if (verdict.kind === 'hold' && verdict.restoreTo !== undefined) return this.restore(verdict, a);
    // Room: a trial of one less (if any) cured the latency. A rebase: the latency is the provider's own.
    const rebase = verdict.kind === 'hold' && verdict.rebase;
    await this.host.updateState(
      `SET baseLatency = :b, baseRawLatency = :br, baseSpread = :bs, baseAt = :ba, xAtLimit = :x${verdict.kind === 'room' || rebase ? ' REMOVE xBeforeCut, limitBeforeCut, cutInSlowStart' : ''}`,
      'attribute_exists(#l)',
      {
        ':b': rebase ? a.latency : a.base.baseLatency,
        ':br': rebase ? a.rawLatency : a.base.baseRawLatency,
        ':bs': rebase ? a.spread : a.base.baseSpread,
        ':ba': rebase ? a.now : a.base.baseAt,
        ':x': a.throughput,
      },
    );
  }

  /**
   * A cut on trial that cost throughput: back to the limit before it (and to slow start, if the cut
   * had ended it), this latency the unloaded one from now on.
   */
  private async restore(verdict: Extract<LatencyVerdict, { kind: 'hold' }>, a: Applied): Promise<void> {
    const resume = verdict.resumeSlowStart === true;
    await this.host.updateState(
      'SET #l = :to, slowStart = :ss, adjustedAt = :now, baseLatency = :b, baseRawLatency = :br, ' +
        'baseSpread = :bs, baseAt = :now, xAtLimit = :x REMOVE xBeforeCut, limitBeforeCut, cutInSlowStart',
      '#l = :cur',
      {
        ':to': resume ? this.host.cap : verdict.restoreTo,
        ':ss': resume,
        ':cur': a.state.limit,
        ':now': a.now,
        ':b': a.latency,
        ':br': a.rawLatency,
        ':bs': a.spread,
        ':x': a.throughput,
      },
    );
  }

  private async shrink(verdict: Extract<LatencyVerdict, { kind: 'shrink' }>, a: Applied): Promise<void> {
    // A probe that did not pay, or slow start's overshoot, doubles the interval; a trial does not.
    const failedProbe = verdict.failedProbe === true || a.state.slowStart;
    // This process obeys at once: a slot above the new limit is not handed on.
    this.host.lowerLocalView(verdict.to);
    // A trial of one less keeps the throughput it is judged against; any other shrink forgets it.
    const cut = verdict.trial ? ', xBeforeCut = :xc, limitBeforeCut = :lc, cutInSlowStart = :cs' : '';
    // Only if no other process changed the limit since these calls started (no double shrink).
    await this.host.updateState(
      'SET #l = :t, slowStart = :f, probeSuccesses = :zero, probeInterval = :pi, adjustedAt = :now, ' +
        `baseLatency = :b, baseRawLatency = :br, baseSpread = :bs, baseAt = :ba${cut} ` +
        `REMOVE xAtLimit, xBeforeProbe${cut ? '' : ', xBeforeCut, limitBeforeCut, cutInSlowStart'}`,
      'attribute_not_exists(adjustedAt) OR adjustedAt <= :since',
      {
        ':b': a.base.baseLatency,
        ':br': a.base.baseRawLatency,
        ':bs': a.base.baseSpread,
        ':ba': a.base.baseAt,
        ...(verdict.trial ? { ':xc': a.throughput, ':lc': a.allowed, ':cs': a.state.slowStart } : {}),
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

interface Applied {
  state: LimiterState;
  /** The calls the state allowed while the window ran. */
  allowed: number;
  since: number;
  now: number;
  base: { baseLatency: number; baseRawLatency: number; baseSpread: number; baseAt: number };
  throughput: number;
  latency: number;
  rawLatency: number;
  spread: number;
}

function median(xs: number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)] ?? 0;
}
