// The sliding window every fan-out uses: at most `width` items in flight, in a deterministic order.

/**
 * Runs `run` over items with at most `width` in flight (Temporal-safe: deterministic order).
 * Stops starting new items once `shouldStop()` says so, waits for those in flight, and returns
 * the index of the first item not started. `run` must not throw.
 */
export async function slidingWindow<T>(
  items: readonly T[],
  width: number,
  run: (item: T, index: number) => Promise<void>,
  shouldStop: () => boolean = () => false,
): Promise<number> {
  const inFlight = new Set<Promise<void>>();
  let next = 0;
  for (;;) {
    while (inFlight.size < width && next < items.length && !shouldStop()) {
      const index = next++;
      const p: Promise<void> = run(items[index]!, index).finally(() => inFlight.delete(p));
      inFlight.add(p);
    }
    if (inFlight.size === 0) return next;
    await Promise.race(inFlight);
  }
}
