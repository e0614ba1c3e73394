// The rounding every run report uses for its figures (scores, ratios, per-item rates).

/**
 * `x` rounded to `places` decimals.
 * @param places @default 3
 */
export function round(x: number, places = 3): number {
  const factor = 10 ** places;
  return Math.round(x * factor) / factor;
}

/**
 * `n / d` rounded to `places` decimals; 0 when there is nothing to divide by.
 * @param places @default 3
 */
export function ratio(n: number, d: number, places = 3): number {
  return d ? round(n / d, places) : 0;
}
