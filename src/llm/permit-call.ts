// The part of an LLM call that runs under a global-cap permit, shared by chat and embedding calls:
// holding the permit (lease kept or the request aborted, activity heartbeating), one provider
// request under LLM_CALL_TIMEOUT_MS, latency samples, and giving the permit back after a failure.
import type { LlmMetrics } from './accounting';
import { LlmCallTimeoutError, withDeadline } from './deadline';
import { LlmRateLimitedError } from './errors';
import { LeaseKeeper, eitherSignal } from './lease-keeper';
import type { GlobalLimiter, Permit } from './limiter';

export const HEARTBEAT_EVERY_MS = 2000;

export interface PermitCallDeps {
  limiter: GlobalLimiter;
  metrics: LlmMetrics;
  /** LLM_CALL_TIMEOUT_MS: the most one provider request may take, whatever the HTTP client does. */
  callTimeoutMs: number;
}

export interface HeldPermit {
  /** Aborts when the permit's lease is lost (lease-keeper.ts); the request under it must stop. */
  lease: AbortSignal;
  /** Aborts `lease` now if the lease has already ended (looked at before every request). */
  checkLease: () => void;
  /** Gives the permit back, once, however many paths call it. */
  release: () => Promise<void>;
}

/** Keeps a permit's lease alive while its call runs, and the activity heartbeating. */
export function holdPermit(deps: PermitCallDeps, permit: Permit, heartbeat?: () => void): HeldPermit {
  // Heartbeats every 2 s (the SDK throttles them) so a dead worker's attempt is noticed within the
  // activity's short heartbeat timeout.
  const beat = setInterval(() => heartbeat?.(), HEARTBEAT_EVERY_MS);
  const keeper = new LeaseKeeper(deps.limiter, permit).start();
  deps.metrics.inFlight++;
  let released = false;
  return {
    lease: keeper.signal,
    checkLease: () => keeper.check(),
    release: async () => {
      if (released) return;
      released = true;
      keeper.stop();
      clearInterval(beat);
      deps.metrics.inFlight--;
      await deps.limiter.release(permit);
    },
  };
}

/**
 * One provider request under LLM_CALL_TIMEOUT_MS, aborted too when the activity is cancelled or the
 * permit's lease is lost. A request that times out tells the limiter the provider took at least
 * that long (a queueing provider's strongest congestion signal).
 */
export async function timedRequest<R>(
  deps: PermitCallDeps,
  permit: Permit,
  held: HeldPermit,
  signal: AbortSignal | undefined,
  request: (signal: AbortSignal) => Promise<R>,
): Promise<R> {
  // Timers may not have run since the permit was taken or last renewed (a paused process): look
  // at the lease itself, so no request leaves under an ended one.
  held.checkLease();
  const either = eitherSignal(signal, held.lease);
  try {
    return await withDeadline(deps.callTimeoutMs, either.signal, request);
  } catch (err) {
    if (err instanceof LlmCallTimeoutError)
      observeLatency(deps.limiter, permit, {
        latencyMs: err.timeoutMs,
        promptTokens: 0,
        completionTokens: 0,
      });
    throw err;
  } finally {
    either.dispose();
  }
}

/** A latency sample for the limiter: bookkeeping, so it never fails a call. */
export function observeLatency(
  limiter: GlobalLimiter,
  permit: Permit,
  sample: Parameters<GlobalLimiter['observeLatency']>[1],
): void {
  try {
    limiter.observeLatency(permit, sample);
  } catch {
    // best effort: a paid answer must not be lost to a sample
  }
}

/**
 * After a failed request: a refusal lowers the shared limit while this permit is still held
 * (released first, its slot could go to a waiter whose call the provider would refuse too); then
 * the permit goes back. Never throws.
 */
export async function afterFailedRequest(
  limiter: GlobalLimiter,
  err: unknown,
  permit: Permit,
  held: HeldPermit,
): Promise<void> {
  if (err instanceof LlmRateLimitedError) await limiter.recordRateLimited(permit).catch(() => undefined);
  await held.release().catch(() => undefined);
}
