// A sliding window over items that come page by page (from an activity): at most `width` in flight,
// the next page read when the current one is used up, so a long list never sits in one input.

export interface PagedWindowResult {
  /** Items started. */
  started: number;
  /** True when every page was read and every item started (nothing left for a next run). */
  drained: boolean;
}

/**
 * Runs `run` over the items of `nextPage()` pages (undefined or empty: no more) with at most `width`
 * in flight, in order (Temporal-safe: deterministic). Stops starting items once `shouldStop()` says
 * so and waits for those in flight. `run` must not throw.
 */
export async function pagedWindow<T>(
  nextPage: () => Promise<T[] | undefined>,
  width: number,
  run: (item: T) => Promise<void>,
  shouldStop: () => boolean,
): Promise<PagedWindowResult> {
  const inFlight = new Set<Promise<void>>();
  let buffer: T[] = [];
  let exhausted = false;
  let started = 0;
  for (;;) {
    while (inFlight.size < width && !shouldStop()) {
      if (buffer.length === 0 && !exhausted) {
        const page = await nextPage();
        if (page?.length) buffer = [...page];
        else exhausted = true;
      }
      const item = buffer.shift();
      if (item === undefined) break;
      started++;
      const p: Promise<void> = run(item).finally(() => inFlight.delete(p));
      inFlight.add(p);
    }
    if (inFlight.size === 0) return { started, drained: exhausted && buffer.length === 0 };
    await Promise.race(inFlight);
  }
}
