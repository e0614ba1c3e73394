// Splits a list into fixed-size batches, e.g. label issues per LLM review call.

/** Consecutive slices of at most `size` items; the last one may be shorter; [] for no items. */
export function chunk<T>(items: readonly T[], size: number): T[][] {
  if (!Number.isInteger(size) || size < 1) {
    throw new RangeError(`chunk size must be an integer >= 1, got ${size}`);
  }
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
