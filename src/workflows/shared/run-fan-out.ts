// One workflow run's share of a fan-out: a window of items in the run breaker's scope that stops
// starting items once the breaker opens, once the run has started its quota, or once Temporal
// suggests continuing as new; what is left goes to the next run.
import { workflowInfo } from '@temporalio/workflow';
import type { RunBreaker } from '../run-breaker';
import { pagedWindow, type PagedWindowResult } from './paged-window';
import { slidingWindow } from './sliding-window';

export interface RunFanOut {
  /** Items in flight at most. */
  width: number;
  /** Items this run starts at most before it continues as new. */
  quota: number;
  /** The run's breaker: `run` is in its scope, and nothing starts once it is open. */
  breaker: RunBreaker;
}

/** Counts the items started and says when to stop starting them. */
function quotaRule(f: RunFanOut) {
  let started = 0;
  return {
    started: () => void started++,
    // workflowInfo() anew: the SDK replaces the info object on each activation, so a saved one is stale.
    stop: () => f.breaker.open || started >= f.quota || workflowInfo().continueAsNewSuggested,
  };
}

/**
 * Runs `run` over `items` from index `from` (the index `run` gets is the item's in `items`) and
 * returns the index of the first item not started: `items.length` when every one was.
 */
export async function windowThisRun<T>(
  items: readonly T[],
  from: number,
  f: RunFanOut,
  run: (item: T, index: number) => Promise<void>,
): Promise<number> {
  const rule = quotaRule(f);
  const started = await f.breaker.run(() =>
    slidingWindow(
      items.slice(from),
      f.width,
      (item, i) => {
        rule.started();
        return run(item, from + i);
      },
      rule.stop,
    ),
  );
  return from + started;
}

/** Runs `run` over the items of `nextPage()`'s pages (see `pagedWindow`). */
export function pagedWindowThisRun<T>(
  nextPage: () => Promise<T[] | undefined>,
  f: RunFanOut,
  run: (item: T) => Promise<void>,
): Promise<PagedWindowResult> {
  const rule = quotaRule(f);
  return f.breaker.run(() =>
    pagedWindow(
      nextPage,
      f.width,
      (item) => {
        rule.started();
        return run(item);
      },
      rule.stop,
    ),
  );
}
