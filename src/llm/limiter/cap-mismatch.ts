// The error of a worker whose cap differs from the one stored in the shared state.
import { LlmTransientError } from '../errors';

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
