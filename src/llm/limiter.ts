// The global LLM concurrency cap: a leased semaphore in DynamoDB shared by every `llm` worker,
// with an adaptive limit (slow start to the cap, cut to what the provider accepted on a 429,
// slow probing back up) and a per-minute token budget.
//
// How the adaptive limit learns a provider limit it is not told (every step is shared state):
// - slow start: from `initialWindow`, allow `slowStartGrowth` (25%) more than the highest concurrency
//   a successful call has run at. Growth is geometric (x1.25 per call latency), but the overshoot
//   when it meets the provider's limit P is about P/4 refused calls, not P as with doubling.
// - on a 429/503 the limit drops to what the provider provably accepted: the permits held by
//   others when the refused call got its permit (`heldAtAcquire - 1`), or those held now if more.
//   The drop is recorded BEFORE the refused call's permit is released, so no waiter slips into the
//   slot the provider has just refused.
// - probing: after `probeAfterSuccesses` successes of calls that ran AT the limit, try one more;
//   a refused probe doubles that interval (the slow-start overshoot counts as one). Calls that ran
//   below the limit (a thin backlog) prove nothing and never raise it.
//
// Local handoff: a permit released while a call of the same process waits goes straight to that
// call, lease and all, with no DynamoDB round trip (release + query + conditional put cost ~50 ms
// per call on a busy machine, 6% of an 800 ms call). It never raises the number held, and it is
// only done while this process's view of the shared state is fresh (`handoffMaxAgeMs`) and says
// the slot is within the allowed window, so a lowered limit is obeyed within that age.
import os from 'node:os';
import {
  DeleteCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
  type DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';
import { ClientLag } from './client-lag';
import { LlmBudgetExhaustedError, LlmTransientError } from './errors';
import { defaultSkewMarginMs, leaseEndForOthers } from './lease-keeper';
import {
  DEFAULT_LATENCY_OPTIONS,
  judgeWindow,
  nextBase,
  windowStats,
  type LatencyMemory,
  type LatencyOptions,
  type LatencySample,
  type LatencyVerdict,
} from './latency-signal';

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
  /**
   * In-flight calls allowed before any success has confirmed more. @default 4, or 2 when
   * `latencyAware` (its unloaded latency is learnt from the first calls: they must not queue).
   */
  initialWindow?: number;
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

interface LimiterState extends LatencyMemory {
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
    initialWindow: Math.min(o.cap, o.initialWindow ?? (latencyAware ? 2 : 4)),
    slowStartGrowth: o.slowStartGrowth ?? 0.25,
    probeAfterSuccesses: o.probeAfterSuccesses ?? 20,
    maxPollMs: o.maxPollMs ?? 200,
    maxTokensPerMinute: o.maxTokensPerMinute,
    handoffMaxAgeMs: o.handoffMaxAgeMs ?? 1000,
  };
}

/**
 * How many calls may be in flight given the shared state: the cap when not adaptive; else the
 * learned limit, and during slow start no more than `growth` (a fraction, at least one call) above
 * the highest concurrency that has been seen to succeed.
 */
export function allowedInFlight(
  state: Pick<LimiterState, 'limit' | 'confirmed' | 'slowStart'>,
  cap: number,
  initialWindow: number,
  adaptive: boolean,
  growth = 0.25,
): number {
  if (!adaptive) return cap;
  const limit = Math.max(1, Math.min(cap, Math.floor(state.limit)));
  if (!state.slowStart) return limit;
  const next = state.confirmed + Math.max(1, Math.ceil(state.confirmed * growth));
  return Math.min(limit, Math.max(initialWindow, next));
}

export class GlobalLimiter {
  readonly opts: ReturnType<typeof applyLimiterDefaults>;
  private readonly pk: string;
  private readonly holderPrefix = `${os.hostname()}:${process.pid}:${Math.random().toString(36).slice(2, 8)}`;
  private seq = 0;
  /**
   * This process's waiters in arrival order. Only the head looks at the shared semaphore, so a
   * release wakes one waiter instead of a herd, DynamoDB sees one poller per process, and calls
   * are served in the order the worker took them from the (fairness-ordered) task queue.
   */
  private readonly waiters: Waiter[] = [];
  private cachedState: LimiterState | undefined;
  /** The last snapshot's time, permits held and permits allowed: what a local handoff goes by. */
  private lastLook = { at: 0, held: 0, allowed: 0 };
  /** A limit this process lowered, kept in its view for a while (a concurrent read may predate the write). */
  private localCut: { allowed: number; until: number } | undefined;
  /** Finished requests of this process not yet judged by the latency signal. */
  private latencyWindow: LatencySample[] = [];
  /** This process's event-loop lag while the window ran (a starved client's latency is its own). */
  private readonly clientLag = new ClientLag();
  private judging = false;
  /** The latency verdicts this process acted on, newest last (bounded). */
  readonly latencyDecisions: LatencyDecision[] = [];

  constructor(
    private readonly ddb: DynamoDBDocumentClient,
    private readonly table: string,
    options: LimiterOptions,
  ) {
    this.opts = applyLimiterDefaults(options);
    this.pk = `LIMITER#${this.opts.name}`;
  }

  /** Calls of this process waiting for a permit. */
  get waiting(): number {
    return this.waiters.length;
  }

  private initialState(): LimiterState {
    return {
      cap: this.opts.cap,
      limit: this.opts.cap,
      confirmed: 0,
      slowStart: true,
      probeSuccesses: 0,
      probeInterval: this.opts.probeAfterSuccesses,
      lastProbeAt: 0,
    };
  }

  /** Reads the state and every slot in one Query (they share a partition). */
  async snapshot(
    now = Date.now(),
  ): Promise<LimiterSnapshot & { state: LimiterState; heldSlots: Set<number> }> {
    const r = await this.ddb.send(
      new QueryCommand({
        TableName: this.table,
        // 'SLOT#...' < 'STATE' < 'TOKENS#...': the per-minute token items are not read here.
        KeyConditionExpression: 'PK = :pk AND SK BETWEEN :first AND :last',
        ExpressionAttributeValues: { ':pk': this.pk, ':first': 'SLOT#', ':last': 'STATE' },
        ConsistentRead: true,
      }),
    );
    let state: LimiterState | undefined;
    const heldSlots = new Set<number>();
    for (const item of r.Items ?? []) {
      if (item.SK === 'STATE') state = item as unknown as LimiterState;
      else if (
        typeof item.SK === 'string' &&
        item.SK.startsWith('SLOT#') &&
        leaseEndForOthers(Number(item.leaseUntil), this.opts.skewMarginMs) > now
      ) {
        heldSlots.add(Number(item.slot));
      }
    }
    state = state ? this.sameCap(state) : await this.initState();
    this.cachedState = state;
    const allowed = allowedInFlight(
      state,
      this.opts.cap,
      this.opts.initialWindow,
      this.opts.adaptive,
      this.opts.slowStartGrowth,
    );
    // A cut this process just made holds in its view even if this read raced ahead of the write.
    const cut = this.localCut && now < this.localCut.until ? this.localCut.allowed : Infinity;
    this.lastLook = { at: now, held: heldSlots.size, allowed: Math.min(allowed, cut) };
    return {
      state,
      heldSlots,
      held: heldSlots.size,
      limit: state.limit,
      allowed,
      confirmed: state.confirmed,
      slowStart: state.slowStart,
    };
  }

  /**
   * Overwrites the shared state with a fresh one for this limiter's cap: the deliberate way to change
   * the cap (LLM_LIMITER_RESET=true on a worker start). Workers still running with another cap are
   * refused from their next look on.
   */
  async resetState(): Promise<LimiterState> {
    const state = this.initialState();
    await this.ddb.send(
      new PutCommand({ TableName: this.table, Item: { PK: this.pk, SK: 'STATE', ...state } }),
    );
    return state;
  }

  /**
   * Checks that the shared state is for this limiter's cap, creating it if there is none (a worker
   * calls this as it starts, so a misconfigured one is refused before it takes any call).
   */
  async checkCap(): Promise<void> {
    await this.snapshot();
  }

  /** The first worker creates the state; a racing second one reads the winner's (and its cap). */
  private async initState(): Promise<LimiterState> {
    const state = this.initialState();
    try {
      await this.ddb.send(
        new PutCommand({
          TableName: this.table,
          Item: { PK: this.pk, SK: 'STATE', ...state },
          ConditionExpression: 'attribute_not_exists(SK)',
        }),
      );
      return state;
    } catch (err) {
      if ((err as Error).name !== 'ConditionalCheckFailedException') throw err;
      return (await this.snapshot()).state;
    }
  }

  /** The stored state, if it is for our cap; a state from before caps were stored is adopted. */
  private sameCap(state: LimiterState): LimiterState {
    if (state.cap === undefined) return { ...state, cap: this.opts.cap };
    if (Number(state.cap) !== this.opts.cap)
      throw new LimiterCapMismatchError(this.opts.name, Number(state.cap), this.opts.cap);
    return state;
  }

  /**
   * Waits for a permit. `onWait` is called between looks (the activity heartbeats there), and the
   * signal aborts the wait (activity cancelled or timed out).
   */
  async acquire(signal?: AbortSignal, onWait?: () => void): Promise<Permit> {
    signal?.throwIfAborted();
    const me = new Waiter();
    this.waiters.push(me);
    try {
      // Behind other waiters of this process: sleep until first in line (heartbeating meanwhile).
      while (this.waiters[0] !== me) {
        onWait?.();
        await me.sleep(this.opts.maxPollMs * 5, signal);
        signal?.throwIfAborted();
      }
      let pollMs = 10;
      for (;;) {
        // A release in this process may hand its permit over while we look or sleep (not while
        // we try to take a slot: then we could end up with two).
        me.canTakeHandoff = true;
        if (me.handedOff) return me.take()!;
        const now = Date.now();
        const snap = await this.snapshot(now);
        if (me.handedOff) return me.take()!;
        const slot = pickSlot(snap.heldSlots, snap.allowed);
        if (slot !== undefined) {
          me.canTakeHandoff = false;
          const permit = await this.tryTake(slot, snap.held + 1, snap.allowed, now);
          if (permit) return permit;
          continue; // another process took that slot first: look again at once
        }
        onWait?.();
        // Woken at once by a release in this process; other processes' releases are polled for.
        await me.sleep(pollMs + Math.random() * pollMs, signal);
        if (me.handedOff) return me.take()!;
        signal?.throwIfAborted();
        pollMs = Math.min(this.opts.maxPollMs, pollMs * 1.5);
      }
    } finally {
      me.canTakeHandoff = false;
      const i = this.waiters.indexOf(me);
      if (i >= 0) this.waiters.splice(i, 1);
      // A permit handed over just as this wait failed (e.g. a DynamoDB error) is passed on.
      const stranded = me.take();
      if (stranded) void this.release(stranded).catch(() => undefined);
      // The next in line looks now: there may be room for it too, or it is its turn to poll.
      if (i === 0) this.waiters[0]?.wake();
    }
  }

  /**
   * Gives a released permit to the first waiting call of this process, if that call is between
   * looks (not taking a slot) and the last look at the shared state is fresh and has this slot in
   * the window.
   */
  private handOff(permit: Permit): boolean {
    const head = this.waiters[0];
    const now = Date.now();
    const look = this.lastLook;
    if (!head?.canTakeHandoff) return false;
    if (now - look.at > this.opts.handoffMaxAgeMs) return false;
    if (look.held > look.allowed || permit.slot >= look.allowed) return false;
    // Enough lease left for the next call to renew it in time (it renews at a third of the lease).
    if (permit.leaseUntil - now < this.opts.leaseMs / 2) return false;
    head.canTakeHandoff = false;
    head.handedOff = {
      ...permit,
      inFlightAtStart: look.held,
      allowedAtAcquire: look.allowed,
      acquiredAt: now,
      handoffs: permit.handoffs + 1,
    };
    head.wake();
    return true;
  }

  private async tryTake(
    slot: number,
    heldAtAcquire: number,
    allowedAtAcquire: number,
    now: number,
  ): Promise<Permit | undefined> {
    const holder = `${this.holderPrefix}:${++this.seq}`;
    try {
      await this.ddb.send(
        new PutCommand({
          TableName: this.table,
          Item: {
            PK: this.pk,
            SK: slotKey(slot),
            slot,
            holder,
            heldAtAcquire,
            acquiredAt: now,
            leaseUntil: now + this.opts.leaseMs,
          },
          // Free once its lease has ended as others see it (leaseEndForOthers: skew-tolerant).
          ConditionExpression: 'attribute_not_exists(holder) OR leaseUntil < :cutoff',
          ExpressionAttributeValues: { ':cutoff': now - this.opts.skewMarginMs },
        }),
      );
      return {
        slot,
        holder,
        heldAtAcquire,
        inFlightAtStart: heldAtAcquire,
        allowedAtAcquire,
        acquiredAt: now,
        leaseUntil: now + this.opts.leaseMs,
        handoffs: 0,
      };
    } catch (err) {
      if ((err as Error).name === 'ConditionalCheckFailedException') return undefined;
      throw err;
    }
  }

  /**
   * Extends the lease of a permit held through a long call: true when renewed, false when the slot
   * is no longer this permit's (another holder took it after the lease ended). Errors are thrown.
   */
  async renew(permit: Permit): Promise<boolean> {
    const leaseUntil = Date.now() + this.opts.leaseMs;
    try {
      await this.ddb.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { PK: this.pk, SK: slotKey(permit.slot) },
          UpdateExpression: 'SET leaseUntil = :t',
          ConditionExpression: 'holder = :h',
          ExpressionAttributeValues: { ':t': leaseUntil, ':h': permit.holder },
        }),
      );
      permit.leaseUntil = leaseUntil;
      return true;
    } catch (err) {
      if ((err as Error).name !== 'ConditionalCheckFailedException') throw err;
      permit.leaseUntil = 0; // no longer ours: never handed on
      return false;
    }
  }

  /** Gives the permit back: to a waiting call of this process if it can, else to everyone. */
  async release(permit: Permit): Promise<void> {
    if (this.handOff(permit)) return;
    try {
      await this.ddb.send(
        new DeleteCommand({
          TableName: this.table,
          Key: { PK: this.pk, SK: slotKey(permit.slot) },
          ConditionExpression: 'holder = :h',
          ExpressionAttributeValues: { ':h': permit.holder },
        }),
      );
    } catch (err) {
      if ((err as Error).name !== 'ConditionalCheckFailedException') throw err;
    } finally {
      this.waiters[0]?.wake();
    }
  }

  /** A call succeeded: confirms the concurrency it ran at, and probes upward when below the cap. */
  async recordSuccess(permit: Permit): Promise<void> {
    if (!this.opts.adaptive) return;
    const state = this.cachedState ?? this.initialState();
    if (permit.heldAtAcquire > state.confirmed) {
      await this.conditionalUpdate('SET confirmed = :h', 'confirmed < :h', { ':h': permit.heldAtAcquire });
      state.confirmed = permit.heldAtAcquire;
    }
    if (state.slowStart || state.limit >= this.opts.cap) return;
    // Only a call that ran with the whole window in use shows the limit holds; one that ran below
    // it (a thin backlog) says nothing about one more, and must not walk the limit up unseen.
    if (permit.heldAtAcquire < permit.allowedAtAcquire) return;
    const r = await this.ddb.send(
      new UpdateCommand({
        TableName: this.table,
        Key: { PK: this.pk, SK: 'STATE' },
        UpdateExpression: 'ADD probeSuccesses :one',
        ExpressionAttributeValues: { ':one': 1 },
        ReturnValues: 'ALL_NEW',
      }),
    );
    const s = r.Attributes as LimiterState | undefined;
    if (s && s.probeSuccesses >= s.probeInterval && s.limit < this.opts.cap) {
      // The throughput at the old limit is what the latency signal judges the probe by.
      this.trace('probe', { from: s.limit, x: s.xAtLimit });
      await this.conditionalUpdate(
        'SET #l = :next, probeSuccesses = :zero, lastProbeAt = :now, adjustedAt = :now, xBeforeProbe = :x',
        '#l = :cur',
        {
          ':next': Math.floor(s.limit) + 1,
          ':cur': s.limit,
          ':zero': 0,
          ':now': Date.now(),
          ':x': s.xAtLimit ?? 0,
        },
      );
    }
  }

  /**
   * The provider refused the call holding `permit` (429/503). Call BEFORE releasing the permit.
   * The provider had accepted every call whose permit was held when this one was granted, so the
   * new limit is `heldAtAcquire - 1` (or the permits held now besides this one, if more): never
   * raised here, and at least 1. Without a permit, only the permits held now count.
   */
  async recordRateLimited(permit?: Permit): Promise<void> {
    if (!this.opts.adaptive) return;
    const snap = await this.snapshot();
    const heldByOthers = permit && snap.heldSlots.has(permit.slot) ? snap.held - 1 : snap.held;
    const accepted = permit ? Math.max(permit.heldAtAcquire - 1, heldByOthers) : heldByOthers;
    const target = Math.max(1, Math.min(accepted, Math.floor(snap.state.limit)));
    if (target >= snap.state.limit && !snap.state.slowStart) return;
    // The overshoot that ends slow start was a probe above the provider's limit too.
    const failedProbe = snap.state.slowStart || Date.now() - snap.state.lastProbeAt < 60_000;
    // This process's view follows at once: the refused slot (released next) is not handed on.
    this.trace('refused', { from: snap.state.limit, to: target, slowStart: snap.state.slowStart });
    this.lowerLocalView(target);
    await this.conditionalUpdate(
      'SET #l = :t, slowStart = :f, probeSuccesses = :zero, probeInterval = :pi, adjustedAt = :now',
      '#l > :t OR slowStart = :tr',
      {
        ':now': Date.now(),
        ':t': target,
        ':f': false,
        ':tr': true,
        ':zero': 0,
        ':pi': failedProbe ? Math.min(snap.state.probeInterval * 2, 10_000) : snap.state.probeInterval,
      },
    );
  }

  /**
   * A provider request finished after `latencyMs` (or timed out): a sample for the latency signal.
   * Every `minSamples` samples of this process, the window is judged against the shared state.
   */
  observeLatency(
    permit: Permit,
    sample: Pick<LatencySample, 'latencyMs' | 'promptTokens' | 'completionTokens'>,
  ): void {
    if (!this.opts.latencyAware) return;
    this.clientLag.start();
    this.latencyWindow.push({ ...sample, inFlight: permit.inFlightAtStart, startedAt: permit.acquiredAt });
    this.maybeJudge();
  }

  /** Judges the window once it is full; samples that came in during a judgement are judged next. */
  private maybeJudge(): void {
    if (this.judging || this.latencyWindow.length < this.windowSize()) return;
    this.judging = true;
    void this.judgeLatency()
      .catch(() => undefined)
      .finally(() => {
        this.judging = false;
        this.maybeJudge();
      });
  }

  /** Samples judged at once: fewer while slow start still raises the limit every call latency. */
  private windowSize(): number {
    const l = this.opts.latency;
    return this.cachedState?.slowStart === false ? l.minSamples : l.slowStartSamples;
  }

  private async judgeLatency(): Promise<void> {
    const snap = await this.snapshot();
    const { state } = snap;
    // Calls that started before the limit last changed ran at another level: they prove nothing now.
    const since = state.adjustedAt ?? 0;
    const samples = this.latencyWindow.filter((x) => x.startedAt >= since);
    this.latencyWindow = samples;
    const stats = windowStats(samples);
    if (!stats || stats.samples < this.windowSize()) return;
    this.latencyWindow = [];
    const now = Date.now();
    const base = nextBase(state, stats, now, this.opts.latency);
    const verdict = judgeWindow(
      stats,
      {
        memory: state,
        baseLatency: base.baseLatency,
        limit: snap.allowed,
        slowStart: state.slowStart,
        clientLagMs: this.clientLag.takeMaxMs(),
        medianLatencyMs: median(samples.map((x) => x.latencyMs)),
      },
      this.opts.latency,
    );
    this.latencyDecisions.push({
      at: now,
      allowed: snap.allowed,
      verdict,
      latency: stats.latency,
      baseLatency: base.baseLatency,
      throughput: stats.throughput,
      samples: stats.samples,
    });
    if (this.latencyDecisions.length > 200) this.latencyDecisions.shift();
    this.trace('latency', {
      allowed: snap.allowed,
      ...verdict,
      ratio: stats.latency / base.baseLatency,
      inFlight: stats.meanInFlight,
    });
    const memory = { ':b': base.baseLatency, ':ba': base.baseAt };
    if (verdict.kind !== 'shrink') {
      // Room: a trial of one less (if any) cured the latency. A rebase: the latency is the provider's own.
      const rebase = verdict.kind === 'hold' && verdict.rebase;
      await this.conditionalUpdate(
        `SET baseLatency = :b, baseAt = :ba, xAtLimit = :x${verdict.kind === 'room' || rebase ? ' REMOVE xBeforeCut' : ''}`,
        'attribute_exists(#l)',
        {
          ...memory,
          ...(rebase ? { ':b': stats.latency, ':ba': now } : {}),
          ':x': stats.throughput,
        },
      );
      return;
    }
    const failedProbe = state.slowStart || now - state.lastProbeAt < 60_000;
    // This process obeys at once: a slot above the new limit is not handed on.
    this.lowerLocalView(verdict.to);
    // Only if no other process changed the limit since these calls started (no double shrink).
    // A trial of one less keeps the throughput it is judged against; any other shrink forgets it.
    const cut = verdict.trial ? ', xBeforeCut = :xc' : '';
    await this.conditionalUpdate(
      'SET #l = :t, slowStart = :f, probeSuccesses = :zero, probeInterval = :pi, adjustedAt = :now, ' +
        `baseLatency = :b, baseAt = :ba${cut} REMOVE xAtLimit, xBeforeProbe${cut ? '' : ', xBeforeCut'}`,
      'attribute_not_exists(adjustedAt) OR adjustedAt <= :since',
      {
        ...memory,
        ...(verdict.trial ? { ':xc': stats.throughput } : {}),
        ':t': verdict.to,
        ':f': false,
        ':zero': 0,
        ':pi': failedProbe ? Math.min(state.probeInterval * 2, 10_000) : state.probeInterval,
        ':now': now,
        ':since': since,
      },
    );
  }

  /** LLM_LIMITER_TRACE=1: every decision of this process on stderr (a debugging aid). */
  private trace(what: string, detail: Record<string, unknown>): void {
    if (process.env.LLM_LIMITER_TRACE !== '1') return;
    console.error(`limiter ${what} ${JSON.stringify({ t: Date.now() % 1e6, ...detail })}`);
  }

  /** This process obeys a lowered limit at once: a slot above it is not handed on. */
  private lowerLocalView(allowed: number): void {
    this.lastLook = { ...this.lastLook, allowed: Math.min(this.lastLook.allowed, allowed) };
    this.localCut = { allowed, until: Date.now() + Math.max(2000, 2 * this.opts.handoffMaxAgeMs) };
  }

  private async conditionalUpdate(update: string, condition: string, values: Record<string, unknown>) {
    try {
      await this.ddb.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { PK: this.pk, SK: 'STATE' },
          UpdateExpression: update,
          ConditionExpression: condition,
          ExpressionAttributeValues: values,
          ...(update.includes('#l') || condition.includes('#l')
            ? { ExpressionAttributeNames: { '#l': 'limit' } }
            : {}),
        }),
      );
    } catch (err) {
      if ((err as Error).name !== 'ConditionalCheckFailedException') throw err;
    }
  }

  /**
   * Reserves an estimate of tokens in the current minute's shared budget; throws
   * LlmBudgetExhaustedError (retry when the next minute opens) when it would overflow.
   */
  async reserveTokens(estimate: number, now = Date.now()): Promise<number | undefined> {
    const max = this.opts.maxTokensPerMinute;
    if (!max) return undefined;
    const minute = Math.floor(now / 60_000);
    try {
      await this.ddb.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { PK: this.pk, SK: `TOKENS#${minute}` },
          UpdateExpression: 'ADD used :e SET expiresAt = :exp',
          ConditionExpression: 'attribute_not_exists(used) OR used <= :room',
          ExpressionAttributeValues: {
            ':e': estimate,
            ':room': Math.max(0, max - estimate),
            ':exp': minute * 60 + 3600,
          },
        }),
      );
      return minute;
    } catch (err) {
      if ((err as Error).name !== 'ConditionalCheckFailedException') throw err;
      throw new LlmBudgetExhaustedError((minute + 1) * 60_000 - now + Math.floor(Math.random() * 1000));
    }
  }

  /** Corrects a reservation with the tokens the provider reported. */
  async reconcileTokens(minute: number | undefined, delta: number): Promise<void> {
    if (minute === undefined || delta === 0) return;
    await this.ddb.send(
      new UpdateCommand({
        TableName: this.table,
        Key: { PK: this.pk, SK: `TOKENS#${minute}` },
        UpdateExpression: 'ADD used :d',
        ExpressionAttributeValues: { ':d': delta },
      }),
    );
  }
}

/**
 * The shared state was set up for another cap than this worker's. Retryable: the call may go to a
 * worker with the right cap; this one refuses every call until it is restarted.
 */
export class LimiterCapMismatchError extends LlmTransientError {
  override name = 'LimiterCapMismatchError';
  constructor(
    readonly limiter: string,
    readonly storedCap: number,
    readonly ownCap: number,
  ) {
    super(
      undefined,
      `The shared LLM limiter '${limiter}' runs with a cap of ${storedCap} concurrent calls, but this ` +
        `worker has LLM_MAX_CONCURRENT_CALLS=${ownCap}; refusing to run with two caps. Start it with ` +
        `LLM_MAX_CONCURRENT_CALLS=${storedCap}, or, to change the cap for every worker, stop the llm ` +
        `workers and start one with LLM_MAX_CONCURRENT_CALLS=${ownCap} LLM_LIMITER_RESET=true.`,
    );
  }
}

function slotKey(slot: number): string {
  return `SLOT#${String(slot).padStart(3, '0')}`;
}

/**
 * The slot to take, or undefined when `allowed` are held: the lowest free one. Acquirers racing on
 * one snapshot all go for the same slot and one wins, so even while slots above a lowered limit
 * are still held, they cannot together take more than `allowed - held`.
 */
export function pickSlot(heldSlots: ReadonlySet<number>, allowed: number): number | undefined {
  if (heldSlots.size >= allowed) return undefined;
  for (let i = 0; i < allowed; i++) if (!heldSlots.has(i)) return i;
  return undefined;
}

/** One waiting acquire: sleeps until woken (by a release or its turn) or its poll timer fires. */
class Waiter {
  /** Asleep between two looks at the semaphore: a released permit may be handed to it. */
  canTakeHandoff = false;
  handedOff: Permit | undefined;

  /** The permit handed over, once (undefined afterwards). */
  take(): Permit | undefined {
    const p = this.handedOff;
    this.handedOff = undefined;
    return p;
  }
  private resolve: (() => void) | undefined;
  /** A wake that came while not asleep (e.g. during a DynamoDB read) is kept for the next sleep. */
  private woken = false;

  wake(): void {
    if (this.resolve) this.resolve();
    else this.woken = true;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (this.woken || signal?.aborted) {
      this.woken = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        this.resolve = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.resolve = done;
      signal?.addEventListener('abort', done, { once: true });
    });
  }
}

function median(xs: number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)] ?? 0;
}
