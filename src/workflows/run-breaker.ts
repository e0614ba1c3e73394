// The workflow side of the provider breaker: a failure that no other item of the run can escape
// (the provider refuses our credentials, or its breaker opened) stops the run. Each workflow of the
// fan-out that sees one cancels its work in flight, starts nothing more and fails with it, so the
// parent does the same, up to the root, which records the run FAILED with the reason.
import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  ChildWorkflowFailure,
  patched,
} from '@temporalio/workflow';

import { RUN_STOPPING_FAILURE_TYPES } from './shared/failure-types';

export { RUN_STOPPING_FAILURE_TYPES };

/** Marks workflows that stop on such a failure; histories from before replay as they were. */
export const RUN_BREAKER_PATCH = 'llm-run-breaker';

/** The run-stopping ApplicationFailure in `err`'s cause chain (activity or child failures), if any. */
export function runStoppingFailure(err: unknown): ApplicationFailure | undefined {
  let e: unknown = err;
  for (let depth = 0; e && depth < 8; depth++) {
    if (e instanceof ApplicationFailure && e.type && RUN_STOPPING_FAILURE_TYPES.includes(e.type)) return e;
    if (e instanceof ActivityFailure || e instanceof ChildWorkflowFailure || e instanceof ApplicationFailure)
      e = e.cause;
    else return undefined;
  }
  return undefined;
}

/**
 * One workflow's breaker. Run the work that may see a run-stopping failure in `run`; report each
 * failure with `trip(err)`: true means the run is stopping (the failure is not an item's own, do not
 * record it), and work still in `run`'s scope is cancelled.
 */
export class RunBreaker {
  private failure?: ApplicationFailure;
  private readonly scope = new CancellationScope();

  get open(): boolean {
    return this.failure !== undefined;
  }

  /** True when `err` stops the run (or the run is already stopping: `err` is then its echo). */
  trip(err: unknown): boolean {
    if (this.failure) return true;
    const cause = runStoppingFailure(err);
    if (!cause || !patched(RUN_BREAKER_PATCH)) return false;
    this.failure = ApplicationFailure.nonRetryable(cause.message, cause.type);
    this.scope.cancel();
    return true;
  }

  /** Runs `body` in the breaker's scope; throws the run-stopping failure once `body` has returned. */
  async run<T>(body: () => Promise<T>): Promise<T> {
    let result: T;
    try {
      result = await this.scope.run(body);
    } catch (err) {
      this.throwIfOpen();
      throw err;
    }
    this.throwIfOpen();
    return result;
  }

  throwIfOpen(): void {
    if (this.failure) throw this.failure;
  }
}
