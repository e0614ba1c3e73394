// The provider breaker of a run: once a run's call is refused for its credentials (401/403), or
// `fatalBurst` calls in a row fail for good (400/404/...), no further call of that run leaves this
// process; calls of the run already waiting (for a permit or an answer) are aborted. With `shared`
// the open state is recorded for every `llm` process (a conditional write: the first reason stays)
// and read before each call of the run (cached `sharedCacheMs`), so the others stop too.
import { LlmCircuitOpenError, LlmFatalError, LlmProviderAuthError } from './errors';
import type { LlmClient } from './llm-client';

/** Why a run's breaker opened, as recorded for every process. */
export interface BreakerOpening {
  /** The failure type that opened it: 'LlmProviderAuth' or 'LlmFatal'. */
  openedBy: string;
  reason: string;
}

/** Where the open state of runs' breakers is shared between processes (RunStore: DynamoDB). */
export interface SharedBreakerState {
  /** How the run's breaker was opened by any process, or undefined while it is closed. */
  readBreaker(runId: string): Promise<BreakerOpening | undefined>;
  /** Records the run's breaker open; the first opening stays (false when one was there). */
  openBreaker(runId: string, opening: BreakerOpening): Promise<boolean>;
}

/** How the permit of a call about to send came (the limiter's `Permit` has it). */
export interface PermitOrigin {
  /** Times it went from one call of this process to the next without a round trip; 0: from the semaphore. */
  handoffs: number;
}

/**
 * What a guarded call hands the LLM client: a check once its permit is held, before the first
 * request (a breaker opened in another process while it waited sends nothing), and a report of
 * its failure before the permit goes back (what it opens is recorded before the next holder looks).
 */
export interface ProviderCallHooks {
  beforeSend: (permit?: PermitOrigin) => Promise<void>;
  onFailure: (err: unknown) => Promise<void>;
}

export interface ProviderBreakerOptions {
  /** Non-retryable provider failures in a row (per run) that open the breaker. @default 5 */
  fatalBurst?: number;
  /** Runs whose state is kept; the oldest is forgotten beyond this. @default 1000 */
  maxRuns?: number;
  /** The open state shared with the other `llm` processes. @default none (this process only) */
  shared?: SharedBreakerState;
  /** How long a run's shared state read as closed is trusted before it is read again. @default 250 */
  sharedCacheMs?: number;
  /** The clock (tests). @default Date.now */
  now?: () => number;
}

export const DEFAULT_FATAL_BURST = 5;
const DEFAULT_MAX_RUNS = 1000;
export const DEFAULT_SHARED_CACHE_MS = 250;

interface RunState {
  fatalInARow: number;
  open?: LlmCircuitOpenError;
  /** Aborts of the calls in flight, fired when the breaker opens. */
  inFlight: Set<AbortController>;
  /** The last read of the shared state (calls at once share it) and when it started. */
  sharedRead?: Promise<void>;
  sharedReadAt: number;
  /** The write that told the other processes (the failing call waits for it). */
  published?: Promise<void>;
}

export class ProviderBreaker {
  private readonly runs = new Map<string, RunState>();
  private readonly fatalBurst: number;
  private readonly maxRuns: number;
  private readonly shared?: SharedBreakerState;
  private readonly sharedCacheMs: number;
  private readonly now: () => number;

  constructor(opts: ProviderBreakerOptions = {}) {
    this.fatalBurst = opts.fatalBurst ?? DEFAULT_FATAL_BURST;
    this.maxRuns = opts.maxRuns ?? DEFAULT_MAX_RUNS;
    this.shared = opts.shared;
    this.sharedCacheMs = opts.sharedCacheMs ?? DEFAULT_SHARED_CACHE_MS;
    this.now = opts.now ?? Date.now;
  }

  /** Why the run's breaker is open, or undefined while it is closed. */
  openReason(runId: string): LlmCircuitOpenError | undefined {
    return this.runs.get(runId)?.open;
  }

  /**
   * Runs one provider call of `runId`. Refused at once (LlmCircuitOpenError) when the run's breaker
   * is open; `call` gets a signal that aborts when the caller's does or when the breaker opens.
   */
  async call<T>(
    runId: string,
    callerSignal: AbortSignal | undefined,
    call: (signal: AbortSignal, hooks: ProviderCallHooks) => Promise<T>,
  ): Promise<T> {
    const state = this.stateOf(runId);
    if (state.open) throw state.open;
    if (this.shared) {
      await this.readShared(runId, state);
      if (state.open) throw state.open;
    }
    const controller = new AbortController();
    const onCallerAbort = () => controller.abort(callerSignal?.reason);
    if (callerSignal?.aborted) onCallerAbort();
    callerSignal?.addEventListener('abort', onCallerAbort, { once: true });
    state.inFlight.add(controller);
    let learned = false;
    const hooks: ProviderCallHooks = {
      beforeSend: (permit) => this.ensureClosed(runId, (permit?.handoffs ?? 0) > 0),
      onFailure: async (err) => {
        learned = true;
        this.learn(state, err, runId);
        await state.published;
      },
    };
    try {
      const result = await call(controller.signal, hooks);
      state.fatalInARow = 0;
      return result;
    } catch (err) {
      if (!learned) this.learn(state, err, runId);
      const failure = this.failed(state, err, controller);
      await state.published;
      throw failure;
    } finally {
      state.inFlight.delete(controller);
      callerSignal?.removeEventListener('abort', onCallerAbort);
    }
  }

  /**
   * Throws the run's open breaker: called once a call holds its permit, right before its first
   * request. A permit from the shared semaphore reads the shared state afresh, so a breaker opened
   * in another process while the call waited sends nothing. One handed on by a call of this process
   * goes by a read at most `sharedCacheMs` old (call entries keep it fresh): that read is the only
   * DynamoDB request between one call's end and the next one's start, and a busy table makes it
   * tens of ms (short calls, one run each: the provider idle in gaps under 50 ms for 4.4 -> 3.1 of
   * about 100 slot-seconds). A breaker opened elsewhere reaches such a chain within that age.
   */
  async ensureClosed(runId: string, handedOn = false): Promise<void> {
    const state = this.stateOf(runId);
    if (!state.open) await this.readShared(runId, state, !handedOn);
    if (state.open) throw state.open;
  }

  /** Opens the run's breaker when another process opened it (read at most every sharedCacheMs). */
  private async readShared(runId: string, state: RunState, fresh = false): Promise<void> {
    const shared = this.shared;
    if (!shared) return;
    if (fresh || !state.sharedRead || this.now() - state.sharedReadAt >= this.sharedCacheMs) {
      state.sharedReadAt = this.now();
      state.sharedRead = shared.readBreaker(runId).then(
        (o) => o && this.open(state, new LlmCircuitOpenError(o.openedBy, o.reason), runId, false),
        () => undefined, // the store unreachable: this process's own state still holds
      );
    }
    await state.sharedRead;
  }

  /** The error the caller of a failed call should see. */
  private failed(state: RunState, err: unknown, controller: AbortController): unknown {
    if (err instanceof LlmProviderAuthError) return err;
    // Aborted because another call opened the breaker: say so, not "request aborted".
    if (state.open && controller.signal.aborted) return state.open;
    return err;
  }

  /** Counts a failed call; opens the breaker on a 401/403 or a burst of fatal errors. */
  private learn(state: RunState, err: unknown, runId: string): void {
    if (err instanceof LlmProviderAuthError) {
      this.open(state, new LlmCircuitOpenError('LlmProviderAuth', err.message), runId);
      return;
    }
    if (err instanceof LlmFatalError && ++state.fatalInARow >= this.fatalBurst) {
      this.open(
        state,
        new LlmCircuitOpenError(
          'LlmFatal',
          `${state.fatalInARow} calls in a row failed for good, the last with: ${err.message}. ` +
            'Check the provider settings (model name, LLM_PROVIDER, OPENAI_BASE_URL / OLLAMA_HOST), then redrive the run.',
        ),
        runId,
      );
    }
  }

  /** Opens the run's breaker here; one opened here (not read) is published to the other processes. */
  private open(state: RunState, reason: LlmCircuitOpenError, runId: string, publish = true): void {
    if (state.open) return;
    state.open = reason;
    for (const c of state.inFlight) c.abort(reason);
    if (publish && this.shared)
      state.published = this.shared
        .openBreaker(runId, { openedBy: reason.openedBy, reason: reason.reason })
        .then(
          () => undefined,
          () => undefined, // best effort: this process stops the run's calls whatever the store does
        );
  }

  private stateOf(runId: string): RunState {
    let state = this.runs.get(runId);
    if (!state) {
      state = { fatalInARow: 0, inFlight: new Set(), sharedReadAt: 0 };
      this.runs.set(runId, state);
      if (this.runs.size > this.maxRuns) {
        const oldest = this.runs.keys().next().value;
        if (oldest !== undefined && oldest !== runId) this.runs.delete(oldest);
      }
    }
    return state;
  }
}

/**
 * The client's calls through the breaker (structured answers and embeddings alike). Other members
 * are the client's own.
 */
export function withProviderBreaker(llm: LlmClient, breaker: ProviderBreaker): LlmClient {
  const guarded = Object.create(llm) as LlmClient;
  guarded.structured = (input) =>
    breaker.call(input.runId, input.signal, (signal, hooks) =>
      llm.structured({ ...input, signal, ...hooks }),
    );
  guarded.embed = (input) =>
    breaker.call(input.runId, input.signal, (signal, hooks) => llm.embed({ ...input, signal, ...hooks }));
  return guarded;
}
