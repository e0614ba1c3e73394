// The global LLM concurrency cap: a leased semaphore in DynamoDB shared by every `llm` worker,
// with an adaptive limit (slow start to the cap, cut to what the provider accepted on a 429,
// slow probing back up) and a per-minute token budget.
import { EventEmitter } from 'node:events';
import os from 'node:os';
import {
  DeleteCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
  type DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';
import { LlmBudgetExhaustedError } from './errors';

export interface LimiterOptions {
  /** Name of the semaphore; one per provider account you want to protect. @default 'llm' */
  name?: string;
  /** The global cap (LLM_MAX_CONCURRENT_CALLS). */
  cap: number;
  /** A permit not renewed for this long is free again (a dead worker's permits come back). */
  leaseMs: number;
  /** Adapt the limit to 429/503 answers. @default true */
  adaptive?: boolean;
  /** In-flight calls allowed before any success has confirmed more. @default 4 */
  initialWindow?: number;
  /** Successes at the current limit before probing one higher; doubles after a failed probe. @default 20 */
  probeAfterSuccesses?: number;
  /** Longest wait between two looks at the semaphore while waiting. @default 200 */
  maxPollMs?: number;
  /** Tokens per minute across all workers (LLM_MAX_TOKENS_PER_MINUTE). */
  maxTokensPerMinute?: number;
}

interface LimiterState {
  limit: number;
  confirmed: number;
  slowStart: boolean;
  probeSuccesses: number;
  probeInterval: number;
  lastProbeAt: number;
}

export interface Permit {
  slot: number;
  holder: string;
  /** Permits held globally when this one was granted, itself included. */
  heldAtAcquire: number;
  acquiredAt: number;
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
): Required<Omit<LimiterOptions, 'maxTokensPerMinute'>> & Pick<LimiterOptions, 'maxTokensPerMinute'> {
  return {
    name: o.name ?? 'llm',
    cap: o.cap,
    leaseMs: o.leaseMs,
    adaptive: o.adaptive ?? true,
    initialWindow: Math.min(o.cap, o.initialWindow ?? 4),
    probeAfterSuccesses: o.probeAfterSuccesses ?? 20,
    maxPollMs: o.maxPollMs ?? 200,
    maxTokensPerMinute: o.maxTokensPerMinute,
  };
}

/**
 * How many calls may be in flight given the shared state: the cap when not adaptive; else the
 * learned limit, and during slow start no more than twice what has been seen to succeed.
 */
export function allowedInFlight(
  state: LimiterState,
  cap: number,
  initialWindow: number,
  adaptive: boolean,
): number {
  if (!adaptive) return cap;
  const limit = Math.max(1, Math.min(cap, Math.floor(state.limit)));
  return state.slowStart ? Math.min(limit, Math.max(initialWindow, 2 * state.confirmed)) : limit;
}

export class GlobalLimiter {
  readonly opts: ReturnType<typeof applyLimiterDefaults>;
  private readonly pk: string;
  private readonly holderPrefix = `${os.hostname()}:${process.pid}:${Math.random().toString(36).slice(2, 8)}`;
  private seq = 0;
  private readonly local = new EventEmitter();
  private cachedState: LimiterState | undefined;

  constructor(
    private readonly ddb: DynamoDBDocumentClient,
    private readonly table: string,
    options: LimiterOptions,
  ) {
    this.opts = applyLimiterDefaults(options);
    this.pk = `LIMITER#${this.opts.name}`;
    this.local.setMaxListeners(0);
  }

  private initialState(): LimiterState {
    return {
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
        KeyConditionExpression: 'PK = :pk',
        ExpressionAttributeValues: { ':pk': this.pk },
        ConsistentRead: true,
      }),
    );
    let state: LimiterState | undefined;
    const heldSlots = new Set<number>();
    for (const item of r.Items ?? []) {
      if (item.SK === 'STATE') state = item as unknown as LimiterState;
      else if (typeof item.SK === 'string' && item.SK.startsWith('SLOT#') && Number(item.leaseUntil) > now) {
        heldSlots.add(Number(item.slot));
      }
    }
    if (!state || (state as unknown as { cap?: number }).cap !== this.opts.cap)
      state = await this.resetState();
    this.cachedState = state;
    const allowed = allowedInFlight(state, this.opts.cap, this.opts.initialWindow, this.opts.adaptive);
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

  /** (Re)initialises the shared state, e.g. when the configured cap changes. */
  async resetState(): Promise<LimiterState> {
    const state = this.initialState();
    await this.ddb.send(
      new PutCommand({
        TableName: this.table,
        Item: { PK: this.pk, SK: 'STATE', cap: this.opts.cap, ...state },
      }),
    );
    return state;
  }

  /**
   * Waits for a permit. `onWait` is called between looks (the activity heartbeats there), and the
   * signal aborts the wait (activity cancelled or timed out).
   */
  async acquire(signal?: AbortSignal, onWait?: () => void): Promise<Permit> {
    let pollMs = 10;
    for (;;) {
      signal?.throwIfAborted();
      const now = Date.now();
      const snap = await this.snapshot(now);
      if (snap.held < snap.allowed) {
        const free: number[] = [];
        for (let i = 0; i < snap.allowed; i++) if (!snap.heldSlots.has(i)) free.push(i);
        const slot = free[Math.floor(Math.random() * free.length)];
        if (slot !== undefined) {
          const permit = await this.tryTake(slot, snap.held + 1, now);
          if (permit) return permit;
          pollMs = 10; // lost a race: look again at once
          continue;
        }
      }
      onWait?.();
      await this.waitForRelease(pollMs + Math.random() * pollMs, signal);
      pollMs = Math.min(this.opts.maxPollMs, pollMs * 1.5);
    }
  }

  private async tryTake(slot: number, heldAtAcquire: number, now: number): Promise<Permit | undefined> {
    const holder = `${this.holderPrefix}:${++this.seq}`;
    try {
      await this.ddb.send(
        new PutCommand({
          TableName: this.table,
          Item: {
            PK: this.pk,
            SK: `SLOT#${String(slot).padStart(3, '0')}`,
            slot,
            holder,
            heldAtAcquire,
            acquiredAt: now,
            leaseUntil: now + this.opts.leaseMs,
          },
          ConditionExpression: 'attribute_not_exists(holder) OR leaseUntil < :now',
          ExpressionAttributeValues: { ':now': now },
        }),
      );
      return { slot, holder, heldAtAcquire, acquiredAt: now };
    } catch (err) {
      if ((err as Error).name === 'ConditionalCheckFailedException') return undefined;
      throw err;
    }
  }

  private waitForRelease(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.local.off('released', done);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.local.once('released', done);
      signal?.addEventListener('abort', done, { once: true });
    });
  }

  /** Extends the lease of a permit held through a long call. */
  async renew(permit: Permit): Promise<void> {
    try {
      await this.ddb.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { PK: this.pk, SK: `SLOT#${String(permit.slot).padStart(3, '0')}` },
          UpdateExpression: 'SET leaseUntil = :t',
          ConditionExpression: 'holder = :h',
          ExpressionAttributeValues: { ':t': Date.now() + this.opts.leaseMs, ':h': permit.holder },
        }),
      );
    } catch (err) {
      if ((err as Error).name !== 'ConditionalCheckFailedException') throw err;
    }
  }

  async release(permit: Permit): Promise<void> {
    try {
      await this.ddb.send(
        new DeleteCommand({
          TableName: this.table,
          Key: { PK: this.pk, SK: `SLOT#${String(permit.slot).padStart(3, '0')}` },
          ConditionExpression: 'holder = :h',
          ExpressionAttributeValues: { ':h': permit.holder },
        }),
      );
    } catch (err) {
      if ((err as Error).name !== 'ConditionalCheckFailedException') throw err;
    } finally {
      this.local.emit('released');
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
      await this.conditionalUpdate(
        'SET #l = :next, probeSuccesses = :zero, lastProbeAt = :now',
        '#l = :cur',
        { ':next': Math.floor(s.limit) + 1, ':cur': s.limit, ':zero': 0, ':now': Date.now() },
      );
    }
  }

  /**
   * The provider refused a call (429/503). Call after releasing the permit: the permits still
   * held are the calls the provider did accept, so that is the new limit (never raised here).
   */
  async recordRateLimited(): Promise<void> {
    if (!this.opts.adaptive) return;
    const snap = await this.snapshot();
    const target = Math.max(1, snap.held);
    if (target >= snap.state.limit && !snap.state.slowStart) return;
    const failedProbe = Date.now() - snap.state.lastProbeAt < 60_000;
    await this.conditionalUpdate(
      'SET #l = :t, slowStart = :f, probeSuccesses = :zero, probeInterval = :pi',
      '#l > :t OR slowStart = :tr',
      {
        ':t': Math.min(target, snap.state.limit),
        ':f': false,
        ':tr': true,
        ':zero': 0,
        ':pi': failedProbe ? Math.min(snap.state.probeInterval * 2, 10_000) : snap.state.probeInterval,
      },
    );
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
