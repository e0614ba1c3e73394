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
// call, lease and all, with no DynamoDB round trip (~50 ms a call on a busy machine); only while this
// process's view of the shared state is fresh (`handoffMaxAgeMs`) and has the slot in the window.
import os from 'node:os';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { leaseEndForOthers } from '../lease-keeper';
import type { LatencySample } from '../latency-signal';
import { LimiterCapMismatchError } from './cap-mismatch';
import { LatencyJudge } from './latency-judge';
import {
  allowedWithOptions,
  applyLimiterDefaults,
  initialLimiterState,
  type LatencyDecision,
  type LimiterOptions,
  type LimiterSnapshot,
  type LimiterState,
  type Permit,
} from './options';
import { pickSlot, Waiter } from './slots';
import { LimiterTable } from './state-table';
import { traceLimiter } from './trace';

/** The shortest interval between a waiting head's looks at the shared state. */
const MIN_POLL_MS = 10;

export class GlobalLimiter {
  readonly opts: ReturnType<typeof applyLimiterDefaults>;
  private readonly holderPrefix = `${os.hostname()}:${process.pid}:${Math.random().toString(36).slice(2, 8)}`;
  private seq = 0;
  /**
   * This process's waiters in arrival order. Only the head looks at the shared semaphore (one poller
   * per process, no herd), and calls are served in the order the worker took them from the queue.
   */
  private readonly waiters: Waiter[] = [];
  private cachedState: LimiterState | undefined;
  /** The last snapshot's time, permits held and permits allowed: what a local handoff goes by. */
  private lastLook = { at: 0, held: 0, allowed: 0 };
  /** The head's interval between looks, across waiters: grows while looks find no free slot, resets when one does. */
  private pollMs = MIN_POLL_MS;
  /** A limit this process lowered, kept in its view for a while (a concurrent read may predate the write). */
  private localCut: { allowed: number; until: number } | undefined;
  private readonly store: LimiterTable;
  private readonly judge: LatencyJudge;

  constructor(ddb: DynamoDBDocumentClient, table: string, options: LimiterOptions) {
    this.opts = applyLimiterDefaults(options);
    this.store = new LimiterTable(ddb, table, `LIMITER#${this.opts.name}`);
    this.judge = new LatencyJudge({
      latency: this.opts.latency,
      snapshot: () => this.snapshot(),
      seen: () => ({ state: this.cachedState, allowed: this.lastLook.allowed }),
      updateState: (u, c, v) => this.store.updateState(u, c, v),
      allowsMore: () => this.lookAgainSoon(),
      lowerLocalView: (allowed) => this.lowerLocalView(allowed),
      confirm: (level) => this.confirm(level),
      trace: traceLimiter,
    });
  }

  /** The latency verdicts this process acted on, newest last (bounded). */
  get latencyDecisions(): LatencyDecision[] {
    return this.judge.decisions;
  }

  /** Calls of this process waiting for a permit. */
  get waiting(): number {
    return this.waiters.length;
  }

  /** Reads the state and every slot in one Query (they share a partition). */
  async snapshot(
    now = Date.now(),
  ): Promise<LimiterSnapshot & { state: LimiterState; heldSlots: Set<number> }> {
    const read = await this.store.readStateAndSlots();
    const heldSlots = new Set<number>();
    for (const s of read.slots)
      if (leaseEndForOthers(s.leaseUntil, this.opts.skewMarginMs) > now) heldSlots.add(s.slot);
    const state = read.state ? this.sameCap(read.state) : await this.initState();
    this.cachedState = state;
    const allowed = allowedWithOptions(state, this.opts);
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
    const state = initialLimiterState(this.opts);
    await this.store.putState(state, false);
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
    const state = initialLimiterState(this.opts);
    if (await this.store.putState(state, true)) return state;
    return (await this.snapshot()).state;
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
          this.pollMs = MIN_POLL_MS;
          me.canTakeHandoff = false;
          const permit = await this.tryTake(slot, snap.held + 1, snap.allowed, now);
          if (permit) return permit;
          continue; // another process took that slot first: look again at once
        }
        onWait?.();
        // Woken at once by a release in this process; other processes' releases are polled for.
        await me.sleep(this.pollMs + Math.random() * this.pollMs, signal);
        if (me.handedOff) return me.take()!;
        signal?.throwIfAborted();
        this.pollMs = Math.min(this.opts.maxPollMs, this.pollMs * 1.5);
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
    const leaseUntil = now + this.opts.leaseMs;
    // Free once its lease has ended as others see it (leaseEndForOthers: skew-tolerant).
    const taken = await this.store.takeSlot(
      { slot, holder, heldAtAcquire, acquiredAt: now, leaseUntil },
      now - this.opts.skewMarginMs,
    );
    if (!taken) return undefined;
    return {
      slot,
      holder,
      heldAtAcquire,
      inFlightAtStart: heldAtAcquire,
      allowedAtAcquire,
      acquiredAt: now,
      leaseUntil,
      handoffs: 0,
    };
  }

  /**
   * Extends the lease of a permit held through a long call: true when renewed, false when the slot
   * is no longer this permit's (another holder took it after the lease ended). Errors are thrown.
   */
  async renew(permit: Permit): Promise<boolean> {
    const leaseUntil = Date.now() + this.opts.leaseMs;
    if (await this.store.renewSlot(permit.slot, permit.holder, leaseUntil)) {
      permit.leaseUntil = leaseUntil;
      return true;
    }
    permit.leaseUntil = 0; // no longer ours: never handed on
    return false;
  }

  /** The state changed in a way that may allow more: the waiting head looks now, and often again. */
  private lookAgainSoon(): void {
    this.pollMs = MIN_POLL_MS;
    this.waiters[0]?.wake();
  }

  /** Calls were served at `level` at once: slow start may allow more (never lowers what is confirmed). */
  private async confirm(level: number): Promise<void> {
    await this.store.updateState('SET confirmed = :h', 'confirmed < :h', { ':h': level });
    if (this.cachedState && this.cachedState.confirmed < level) this.cachedState.confirmed = level;
    this.lookAgainSoon();
  }

  /** Gives the permit back: to a waiting call of this process if it can, else to everyone. */
  async release(permit: Permit): Promise<void> {
    if (this.handOff(permit)) return;
    traceLimiter('freed', { slot: permit.slot, waiters: this.waiters.length });
    try {
      await this.store.freeSlot(permit.slot, permit.holder);
    } finally {
      this.waiters[0]?.wake();
    }
  }

  /** A call succeeded: confirms the concurrency it ran at, and probes upward when below the cap. */
  async recordSuccess(permit: Permit): Promise<void> {
    if (!this.opts.adaptive) return;
    const state = this.cachedState ?? initialLimiterState(this.opts);
    // A queueing provider answers every call: only one served without waiting confirms its level.
    // Latency-aware, one call confirms no more than the opening window: above it, a call waits for a
    // fraction of a call (one ahead of it finishing) and jitter hides that, so a level there is
    // confirmed by a window of calls started at it (latency-judge.ts).
    const queued = this.judge.takeQueued(permit);
    const level = this.opts.latencyAware
      ? Math.min(permit.heldAtAcquire, this.opts.initialWindow)
      : permit.heldAtAcquire;
    if (level > state.confirmed && !queued) await this.confirm(level);
    if (state.slowStart || state.limit >= this.opts.cap) return;
    // Only a call that ran with the whole window in use shows the limit holds; one that ran below
    // it (a thin backlog) says nothing about one more, and must not walk the limit up unseen.
    if (permit.heldAtAcquire < permit.allowedAtAcquire) return;
    const s = await this.store.addProbeSuccess();
    if (s && s.probeSuccesses >= s.probeInterval && s.limit < this.opts.cap) {
      // The throughput at the old limit is what the latency signal judges the probe by.
      traceLimiter('probe', { from: s.limit, x: s.xAtLimit });
      await this.store.updateState(
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
   * Before any call has succeeded a refusal says the provider is not serving yet (a model loading:
   * Ollama's 503), not how many it serves at once: slow start goes on from its initial window, and
   * Temporal's backoff spaces the retries.
   */
  async recordRateLimited(permit?: Permit): Promise<void> {
    if (!this.opts.adaptive) return;
    const snap = await this.snapshot();
    if (snap.state.slowStart && snap.state.confirmed === 0) {
      traceLimiter('refused', { before: 'any success', kept: snap.allowed });
      return;
    }
    const heldByOthers = permit && snap.heldSlots.has(permit.slot) ? snap.held - 1 : snap.held;
    const accepted = permit ? Math.max(permit.heldAtAcquire - 1, heldByOthers) : heldByOthers;
    const target = Math.max(1, Math.min(accepted, Math.floor(snap.state.limit)));
    if (target >= snap.state.limit && !snap.state.slowStart) return;
    // The overshoot that ends slow start was a probe above the provider's limit too.
    const failedProbe = snap.state.slowStart || Date.now() - snap.state.lastProbeAt < 60_000;
    // This process's view follows at once: the refused slot (released next) is not handed on.
    traceLimiter('refused', { from: snap.state.limit, to: target, slowStart: snap.state.slowStart });
    this.lowerLocalView(target);
    await this.store.updateState(
      // A latency cut waiting to be judged is moot: the provider said where its limit is.
      'SET #l = :t, slowStart = :f, probeSuccesses = :zero, probeInterval = :pi, adjustedAt = :now REMOVE xBeforeCut, limitBeforeCut, slowStartBeforeCut, cutSamples',
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
    sample: Pick<LatencySample, 'latencyMs' | 'promptTokens' | 'completionTokens' | 'queuedMs'>,
  ): void {
    if (!this.opts.latencyAware) return;
    this.judge.observeRequest(permit, {
      ...sample,
      inFlight: permit.inFlightAtStart,
      startedAt: permit.acquiredAt,
    });
  }

  /** This process obeys a lowered limit at once: a slot above it is not handed on. */
  private lowerLocalView(allowed: number): void {
    this.lastLook = { ...this.lastLook, allowed: Math.min(this.lastLook.allowed, allowed) };
    this.localCut = { allowed, until: Date.now() + Math.max(2000, 2 * this.opts.handoffMaxAgeMs) };
  }

  /**
   * Reserves an estimate of tokens in the current minute's shared budget; throws
   * LlmBudgetExhaustedError (retry when the next minute opens) when it would overflow.
   */
  async reserveTokens(estimate: number, now = Date.now()): Promise<number | undefined> {
    const max = this.opts.maxTokensPerMinute;
    if (!max) return undefined;
    return this.store.reserveTokens(max, estimate, now);
  }

  /** Corrects a reservation with the tokens the provider reported. */
  async reconcileTokens(minute: number | undefined, delta: number): Promise<void> {
    if (minute === undefined || delta === 0) return;
    await this.store.adjustTokens(minute, delta);
  }
}
