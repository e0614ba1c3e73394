// Seeded, dependency-free randomness: the only source of chance in the generators, so that a seed
// always gives the same dataset.

/** A function returning uniformly distributed numbers in [0, 1). */
export type RandomSource = () => number;

/** mulberry32: a tiny 32-bit PRNG, good enough for synthetic data and fast to seed. */
export function mulberry32(seed: number): RandomSource {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** FNV-1a 32-bit hash of the UTF-16 code units of `s`; stable across runtimes. */
export function hashString(s: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    hash ^= s.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/** Helpers over a random source; every method consumes the source deterministically. */
export class Rng {
  constructor(private readonly source: RandomSource) {}

  /** Uniform in [0, 1). */
  next(): number {
    return this.source();
  }

  /** Uniform in [min, max). */
  float(min: number, max: number): number {
    if (!(min <= max)) throw new RangeError(`float(${min}, ${max}): min must not exceed max`);
    return min + this.next() * (max - min);
  }

  /** Uniform integer in [min, max], both ends included. */
  int(min: number, max: number): number {
    if (!Number.isInteger(min) || !Number.isInteger(max) || min > max) {
      throw new RangeError(`int(${min}, ${max}): bounds must be integers with min <= max`);
    }
    return min + Math.floor(this.next() * (max - min + 1));
  }

  /** True with probability `p` (p <= 0 never, p >= 1 always). */
  chance(p: number): boolean {
    return this.next() < p;
  }

  /** One element chosen uniformly; throws on an empty list, which is always a caller bug. */
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('pick() from an empty list');
    return items[Math.floor(this.next() * items.length)] as T;
  }

  /** A shuffled copy (Fisher-Yates); the input is not modified. */
  shuffle<T>(items: readonly T[]): T[] {
    const out = items.slice();
    for (let i = out.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      const tmp = out[i] as T;
      out[i] = out[j] as T;
      out[j] = tmp;
    }
    return out;
  }

  /** `count` distinct elements in random order (all of them when count >= length). */
  sample<T>(items: readonly T[], count: number): T[] {
    if (!Number.isInteger(count) || count < 0)
      throw new RangeError(`sample count ${count} must be an integer >= 0`);
    return this.shuffle(items).slice(0, count);
  }
}

/** A generator seeded with `seed` directly. */
export function createRng(seed: number): Rng {
  return new Rng(mulberry32(seed));
}

/**
 * A generator for one named purpose under a dataset seed, e.g. `seededFor(seed, 'receipt', id)`.
 * Independent streams per key mean adding a merchant does not reshuffle every other receipt.
 */
export function seededFor(seed: number, ...keys: Array<string | number>): Rng {
  // A unit separator keeps ('a', 'bc') and ('ab', 'c') apart.
  return createRng(hashString([seed, ...keys].join('\u001f')));
}
