// A hard bound on one provider request: LLM_CALL_TIMEOUT_MS, whatever the HTTP client does.
import { LlmCallTimeoutError } from './errors';

export { LlmCallTimeoutError };

/**
 * Runs `request` with a signal that aborts after `timeoutMs` or when `outer` aborts, and settles by
 * then even if the request ignores its signal. A plain timer and controller rather than
 * `AbortSignal.any([signal, AbortSignal.timeout()])`: a real Ollama run showed calls with a 120 s
 * timeout ending only at Node fetch's own 300 s headers timeout.
 */
export async function withDeadline<T>(
  timeoutMs: number,
  outer: AbortSignal | undefined,
  request: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  outer?.throwIfAborted();
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  let onOuterAbort: (() => void) | undefined;
  const bound = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const err = new LlmCallTimeoutError(timeoutMs);
      reject(err); // first, so the race settles with this error rather than the aborted fetch's
      controller.abort(err);
    }, timeoutMs);
    onOuterAbort = () => {
      reject(outer?.reason instanceof Error ? outer.reason : new Error('LLM call cancelled'));
      controller.abort(outer?.reason);
    };
    outer?.addEventListener('abort', onOuterAbort, { once: true });
  });
  try {
    return await Promise.race([request(controller.signal), bound]);
  } finally {
    clearTimeout(timer);
    if (onOuterAbort) outer?.removeEventListener('abort', onOuterAbort);
  }
}
