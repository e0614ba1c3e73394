// Named errors for each way a provider call can fail, and how each maps to Temporal retries.
import { ApplicationFailure } from '@temporalio/common';

/**
 * 429, or 503 (Ollama: a model loading or a full queue): retry after the provider's Retry-After, or
 * with the retry policy's exponential backoff when it sends none (Ollama never does).
 */
export class LlmRateLimitedError extends Error {
  override name = 'LlmRateLimitedError';
  constructor(
    readonly status: number,
    readonly retryAfterMs: number | undefined,
    message: string,
  ) {
    super(message);
  }
}

/** 5xx, timeouts, connection resets: retryable with Temporal's backoff. */
export class LlmTransientError extends Error {
  override name = 'LlmTransientError';
  constructor(
    readonly status: number | undefined,
    message: string,
  ) {
    super(message);
  }
}

/** The provider did not answer within LLM_CALL_TIMEOUT_MS; the request was aborted (deadline.ts). */
export class LlmCallTimeoutError extends LlmTransientError {
  override name = 'LlmCallTimeoutError';
  constructor(readonly timeoutMs: number) {
    super(
      undefined,
      `LLM provider did not answer within ${timeoutMs} ms (LLM_CALL_TIMEOUT_MS); request aborted`,
    );
  }
}

/** Attempts of one call that may end at LLM_CALL_TIMEOUT_MS before it fails for good. */
export const MAX_TIMED_OUT_ATTEMPTS = 3;

/** 400/401/403/404 (bad request, bad key, unknown model): retrying cannot help. */
export class LlmFatalError extends Error {
  override name = 'LlmFatalError';
  constructor(
    readonly status: number | undefined,
    message: string,
  ) {
    super(message);
  }
}

/**
 * 401/403: the provider refuses our credentials. Every other call of the run would be refused the
 * same way, so the run stops (the provider breaker, breaker.ts) instead of failing item by item.
 */
export class LlmProviderAuthError extends LlmFatalError {
  override name = 'LlmProviderAuthError';
  constructor(status: number, providerMessage: string) {
    super(
      status,
      `The LLM provider refused our credentials (HTTP ${status}): ${providerMessage}. ` +
        'Check the API key (OPENAI_API_KEY for OpenAI; the credentials of whatever serves OLLAMA_HOST) ' +
        'and that it may use the configured model, then redrive the run (npm run cli -- redrive <runId>).',
    );
  }
}

/** The provider breaker of this run is open: the call was refused (or aborted) before reaching it. */
export class LlmCircuitOpenError extends Error {
  override name = 'LlmCircuitOpenError';
  constructor(
    /** The failure type that opened the breaker: 'LlmProviderAuth' or 'LlmFatal'. */
    readonly openedBy: string,
    readonly reason: string,
  ) {
    super(`Run stopped by the LLM provider breaker, no further call is sent: ${reason}`);
  }
}

/** The model answered, but not with valid JSON for the schema, even after repair attempts. */
export class LlmInvalidAnswerError extends Error {
  override name = 'LlmInvalidAnswerError';
}

/** Token budget of the current minute is spent: come back when the next window opens. */
export class LlmBudgetExhaustedError extends Error {
  override name = 'LlmBudgetExhaustedError';
  constructor(readonly retryAfterMs: number) {
    super(`LLM token budget for this minute is spent; retry in ${retryAfterMs} ms`);
  }
}

/** Classifies an HTTP status from a provider into one of the errors above. */
export function errorForStatus(status: number, retryAfterMs: number | undefined, message: string): Error {
  if (status === 429 || status === 503) return new LlmRateLimitedError(status, retryAfterMs, message);
  if (status === 408 || status === 409 || status >= 500) return new LlmTransientError(status, message);
  if (status === 401 || status === 403) return new LlmProviderAuthError(status, message);
  return new LlmFatalError(status, message);
}

/** Parses Retry-After (seconds or HTTP date) and OpenAI's retry-after-ms into milliseconds. */
export function parseRetryAfter(headers: { get(name: string): string | null } | undefined, now = Date.now()) {
  if (!headers) return undefined;
  const ms = headers.get('retry-after-ms');
  if (ms && Number.isFinite(Number(ms))) return Math.max(0, Number(ms));
  const ra = headers.get('retry-after');
  if (!ra) return undefined;
  if (Number.isFinite(Number(ra))) return Math.max(0, Number(ra) * 1000);
  const date = Date.parse(ra);
  return Number.isFinite(date) ? Math.max(0, date - now) : undefined;
}

/**
 * Turns any error of an LLM call into the ApplicationFailure Temporal should see. Temporal is the
 * only retry layer: rate limits carry `nextRetryDelay` from Retry-After, fatal ones are non-retryable.
 */
export function toActivityFailure(err: unknown, attempt = 1): ApplicationFailure {
  if (err instanceof ApplicationFailure) return err;
  // A call that keeps outlasting the deadline would do so for all 15 attempts: stop, and say what to do.
  if (err instanceof LlmCallTimeoutError && attempt >= MAX_TIMED_OUT_ATTEMPTS) {
    return ApplicationFailure.nonRetryable(
      `${err.message}, on ${attempt} attempts: the provider cannot answer this call in time. ` +
        'Raise LLM_CALL_TIMEOUT_MS, send fewer items a call, or lower LLM_MAX_CONCURRENT_CALLS.',
      'LlmCallTimeout',
    );
  }
  if (err instanceof LlmRateLimitedError) {
    return ApplicationFailure.create({
      message: err.message,
      type: 'LlmRateLimited',
      ...(err.retryAfterMs !== undefined ? { nextRetryDelay: err.retryAfterMs } : {}),
      details: [{ status: err.status }],
    });
  }
  if (err instanceof LlmBudgetExhaustedError) {
    return ApplicationFailure.create({
      message: err.message,
      type: 'LlmBudgetExhausted',
      nextRetryDelay: err.retryAfterMs,
    });
  }
  if (err instanceof LlmProviderAuthError) {
    return ApplicationFailure.nonRetryable(err.message, 'LlmProviderAuth', { status: err.status });
  }
  if (err instanceof LlmCircuitOpenError) {
    return ApplicationFailure.nonRetryable(err.message, 'LlmCircuitOpen', { openedBy: err.openedBy });
  }
  if (err instanceof LlmFatalError) {
    return ApplicationFailure.nonRetryable(err.message, 'LlmFatal', { status: err.status });
  }
  if (err instanceof LlmInvalidAnswerError) {
    return ApplicationFailure.nonRetryable(err.message, 'LlmInvalidAnswer');
  }
  if (err instanceof LlmTransientError) {
    return ApplicationFailure.retryable(err.message, 'LlmTransient', { status: err.status });
  }
  const e = err as Error;
  return ApplicationFailure.retryable(e?.message ?? String(err), e?.name ?? 'Error');
}
