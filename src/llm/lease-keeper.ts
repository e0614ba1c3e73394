// Keeps a global-cap permit's lease alive while its call runs, and stops the call when it cannot:
// a permit whose lease lapses may be taken by another process, and a request still running under
// it would make one more in flight than the cap. So the keeper aborts the provider request BEFORE
// the lease ends unless a renewal succeeded, and at once when a renewal finds the slot taken.
//
// Clock skew between processes: a lease end is a time written by the holder's clock and read by
// others with theirs. The holder treats its lease as ending `skewMarginMs` EARLIER than written
// (`leaseEndForHolder`), every other process as ending that much LATER (`leaseEndForOthers`), so
// two processes whose clocks differ by less than 2 x skewMarginMs never both count on one slot.
import { LlmTransientError } from './errors';
import type { Permit } from './limiter';

/** When the holder stops using its permit unless renewed: the written end minus the margin. */
export function leaseEndForHolder(leaseUntil: number, skewMarginMs: number): number {
  return leaseUntil - skewMarginMs;
}

/** When another process may count the slot as free and take it: the written end plus the margin. */
export function leaseEndForOthers(leaseUntil: number, skewMarginMs: number): number {
  return leaseUntil + skewMarginMs;
}

/** The skew margin when none is configured: a tenth of the lease, at most 2 s. */
export function defaultSkewMarginMs(leaseMs: number): number {
  return Math.min(2000, Math.floor(leaseMs / 10));
}

/** A call's permit lease could not be kept: its provider request was aborted (retryable). */
export class LlmLeaseLostError extends LlmTransientError {
  override name = 'LlmLeaseLostError';
  constructor(
    readonly slot: number,
    readonly why: string,
  ) {
    super(
      undefined,
      `LLM permit (slot ${slot}) lost its lease: ${why}. The provider request was aborted so the ` +
        'global cap holds; Temporal retries the call. If this recurs, check DynamoDB latency and ' +
        'errors, or raise LLM_PERMIT_LEASE_MS.',
    );
  }
}

/** What the keeper needs of the limiter. */
export interface LeaseRenewer {
  readonly opts: { leaseMs: number; skewMarginMs: number };
  /** True when renewed; false when the slot is no longer this permit's (another holder has it). */
  renew(permit: Permit): Promise<boolean>;
}

export class LeaseKeeper {
  private readonly controller = new AbortController();
  private renewTimer: NodeJS.Timeout | undefined;
  private deadlineTimer: NodeJS.Timeout | undefined;
  private renewing = false;
  private stopped = false;
  private lastRenewError: string | undefined;

  constructor(
    private readonly limiter: LeaseRenewer,
    private readonly permit: Permit,
  ) {}

  /** Aborts (with an LlmLeaseLostError as reason) when the lease is lost. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Renews at a third of the lease (two tries before the holder's end) and arms the deadline. */
  start(): this {
    const every = Math.max(1000, this.limiter.opts.leaseMs / 3);
    this.renewTimer = setInterval(() => void this.renewOnce(), every);
    this.armDeadline();
    return this;
  }

  /**
   * Loses the lease at once when its end (as the holder counts it) has passed. A process paused
   * (SIGSTOP, a blocked event loop) between taking its permit and sending its request resumes with
   * the deadline timer not yet run: without this look it would send under a lease that another
   * process may already hold, one call more at the provider than the cap.
   */
  check(): void {
    if (Date.now() >= leaseEndForHolder(this.permit.leaseUntil, this.limiter.opts.skewMarginMs))
      this.lose('it had ended before the request was sent (the process was paused past it)');
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.renewTimer);
    clearTimeout(this.deadlineTimer);
  }

  private armDeadline(): void {
    clearTimeout(this.deadlineTimer);
    const end = leaseEndForHolder(this.permit.leaseUntil, this.limiter.opts.skewMarginMs);
    this.deadlineTimer = setTimeout(
      () => {
        const why = this.lastRenewError
          ? `it could not be renewed before it ended (last renewal error: ${this.lastRenewError})`
          : 'it was not renewed before it ended';
        this.lose(why);
      },
      Math.max(0, end - Date.now()),
    );
  }

  private async renewOnce(): Promise<void> {
    if (this.stopped || this.renewing || this.controller.signal.aborted) return;
    this.renewing = true;
    try {
      const ours = await this.limiter.renew(this.permit);
      if (this.stopped) return;
      if (!ours) this.lose('another holder has taken its slot');
      else {
        this.lastRenewError = undefined;
        this.armDeadline();
      }
    } catch (err) {
      // Not lost yet: the next renewal may succeed; the deadline decides.
      this.lastRenewError = (err as Error)?.message?.slice(0, 200) ?? String(err);
    } finally {
      this.renewing = false;
    }
  }

  private lose(why: string): void {
    if (this.stopped || this.controller.signal.aborted) return;
    this.stop();
    this.controller.abort(new LlmLeaseLostError(this.permit.slot, why));
  }
}

/**
 * A signal that aborts when either does, with the first one's reason; `dispose` detaches it (the
 * outer signal of an activity lives longer than one request).
 */
export function eitherSignal(
  outer: AbortSignal | undefined,
  lease: AbortSignal,
): { signal: AbortSignal; dispose: () => void } {
  if (!outer) return { signal: lease, dispose: () => undefined };
  const both = new AbortController();
  const onOuter = () => both.abort(outer.reason);
  const onLease = () => both.abort(lease.reason);
  if (outer.aborted) onOuter();
  else if (lease.aborted) onLease();
  outer.addEventListener('abort', onOuter, { once: true });
  lease.addEventListener('abort', onLease, { once: true });
  return {
    signal: both.signal,
    dispose: () => {
      outer.removeEventListener('abort', onOuter);
      lease.removeEventListener('abort', onLease);
    },
  };
}
