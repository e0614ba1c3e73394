// Deterministic hashing and seeded randomness: every "random" choice of the emulator comes from here.

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/** 32-bit FNV-1a of a string's UTF-16 code units, continuing from `h` (for chained hashing). */
export function fnv1a(text: string, h = FNV_OFFSET): number {
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, FNV_PRIME);
  }
  return h >>> 0;
}

/** Final avalanche (murmur3 fmix32) so nearby inputs give unrelated outputs. */
export function mix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Hash of several parts (separated so ["ab","c"] differs from ["a","bc"]). */
export function hashParts(...parts: Array<string | number>): number {
  let h = FNV_OFFSET;
  for (const p of parts) {
    h = fnv1a(String(p), h);
    h = Math.imul(h ^ 0x1f, FNV_PRIME) >>> 0;
  }
  return mix32(h);
}

/** A number in [0, 1) determined by the parts. */
export function unitFromParts(...parts: Array<string | number>): number {
  return hashParts(...parts) / 0x1_0000_0000;
}

/** Small fast seeded PRNG (mulberry32): a reproducible stream for a seed. */
export class SeededRandom {
  private state: number;

  constructor(seed: number | string) {
    this.state = typeof seed === 'number' ? mix32(seed >>> 0 || 0x9e3779b9) : hashParts(seed);
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 0x1_0000_0000;
  }

  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  pick<T>(items: readonly T[]): T {
    const item = items[this.int(items.length)];
    if (item === undefined && items.length === 0) throw new Error('pick from an empty list');
    return item as T;
  }

  /** Fisher-Yates shuffle of a copy. */
  shuffle<T>(items: readonly T[]): T[] {
    const out = items.slice();
    for (let i = out.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const a = out[i] as T;
      out[i] = out[j] as T;
      out[j] = a;
    }
    return out;
  }
}

/** Lowercase hex of a 32-bit number, zero-padded to 8 digits. */
export function hex8(n: number): string {
  return (n >>> 0).toString(16).padStart(8, '0');
}
