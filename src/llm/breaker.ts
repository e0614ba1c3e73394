// The provider breaker of an `llm` worker process: once a run's call is refused for its credentials
// (401/403), or `fatalBurst` calls in a row fail for good (400/404/...), no further call of that run
// leaves this process; calls of the run already waiting (for a permit or an answer) are aborted.
import { LlmCircuitOpenError, LlmFatalError, LlmProviderAuthError } from './errors';
import type { LlmClient } from './llm-client';

export interface ProviderBreakerOptions {
  /** Non-retryable provider failures in a row (per run) that open the breaker. @default 5 */
  fatalBurst?: number;
  /** Runs whose state is kept; the oldest is forgotten beyond this. @default 1000 */
  maxRuns?: number;
}

export const DEFAULT_FATAL_BURST = 5;
const DEFAULT_MAX_RUNS = 1000;

interface RunState {
  fatalInARow: number;
  open?: LlmCircuitOpenError;
  /** Aborts of the calls in flight, fired when the breaker opens. */
  inFlight: Set<AbortController>;
}

export class ProviderBreaker {
  private readonly runs = new Map<string, RunState>();
  private readonly fatalBurst: number;
  private readonly maxRuns: number;

  constructor(opts: ProviderBreakerOptions = {}) {
    this.fatalBurst = opts.fatalBurst ?? DEFAULT_FATAL_BURST;
    this.maxRuns = opts.maxRuns ?? DEFAULT_MAX_RUNS;
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
    call: (signal: AbortSignal) => Promise<T>,
  ): Promise<T> {
    const state = this.stateOf(runId);
    if (state.open) throw state.open;
    const controller = new AbortController();
    const onCallerAbort = () => controller.abort(callerSignal?.reason);
    if (callerSignal?.aborted) onCallerAbort();
    callerSignal?.addEventListener('abort', onCallerAbort, { once: true });
    state.inFlight.add(controller);
    try {
      const result = await call(controller.signal);
      state.fatalInARow = 0;
      return result;
    } catch (err) {
      throw this.failed(state, err, controller);
    } finally {
      state.inFlight.delete(controller);
      callerSignal?.removeEventListener('abort', onCallerAbort);
    }
  }

  /** Records a failed call; returns the error the caller should see. */
  private failed(state: RunState, err: unknown, controller: AbortController): unknown {
    if (err instanceof LlmProviderAuthError) {
      this.open(state, new LlmCircuitOpenError('LlmProviderAuth', err.message));
      return err;
    }
    // Aborted because another call opened the breaker: say so, not "request aborted".
    if (state.open && controller.signal.aborted) return state.open;
    if (err instanceof LlmFatalError && ++state.fatalInARow >= this.fatalBurst) {
      this.open(
        state,
        new LlmCircuitOpenError(
          'LlmFatal',
          `${state.fatalInARow} calls in a row failed for good, the last with: ${err.message}. ` +
            'Check the provider settings (model name, LLM_PROVIDER, OPENAI_BASE_URL / OLLAMA_HOST), then redrive the run.',
        ),
      );
    }
    return err;
  }

  private open(state: RunState, reason: LlmCircuitOpenError): void {
    if (state.open) return;
    state.open = reason;
    for (const c of state.inFlight) c.abort(reason);
  }

  private stateOf(runId: string): RunState {
    let state = this.runs.get(runId);
    if (!state) {
      state = { fatalInARow: 0, inFlight: new Set() };
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
    breaker.call(input.runId, input.signal, (signal) => llm.structured({ ...input, signal }));
  guarded.embed = (input) =>
    breaker.call(input.runId, input.signal, (signal) => llm.embed({ ...input, signal }));
  return guarded;
}
