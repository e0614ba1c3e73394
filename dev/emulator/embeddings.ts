// Deterministic text embeddings: signed feature hashing of character n-grams, so strings that share
// most n-grams are near in cosine and unrelated strings are far. Pure; no model needed.

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;
/** Shortest and longest character n-gram hashed. */
export const MIN_NGRAM = 2;
export const MAX_NGRAM = 4;

/**
 * Unit-norm vector of length `dim` for `text`. Each 2..4-gram of the lowercased, space-padded text
 * adds ±1 to one bucket (bucket and sign from its FNV-1a hash).
 */
export function embedText(text: string, dim: number): Float32Array {
  if (!Number.isInteger(dim) || dim < 1)
    throw new RangeError(`embedding dimension must be a positive integer, got ${dim}`);
  const padded = ` ${text.toLowerCase()} `;
  const acc = new Float64Array(dim);
  const n = padded.length;
  for (let start = 0; start + MIN_NGRAM <= n; start++) {
    // Hash each n-gram incrementally: the 3-gram's hash continues the 2-gram's.
    let h = FNV_OFFSET;
    const end = Math.min(n, start + MAX_NGRAM);
    for (let i = start; i < end; i++) {
      h ^= padded.charCodeAt(i);
      h = Math.imul(h, FNV_PRIME);
      if (i - start + 1 >= MIN_NGRAM) {
        // FNV's low bits depend only on the low bits of the input: avalanche before using them.
        let u = h ^ (h >>> 16);
        u = Math.imul(u, 0x85ebca6b);
        u ^= u >>> 13;
        u = Math.imul(u, 0xc2b2ae35);
        u = (u ^ (u >>> 16)) >>> 0;
        const bucket = u % dim;
        // The bucket comes from the value modulo dim, the sign from the top bit.
        acc[bucket] = (acc[bucket] as number) + (u & 0x80000000 ? -1 : 1);
      }
    }
  }
  let norm = 0;
  for (let i = 0; i < dim; i++) norm += (acc[i] as number) * (acc[i] as number);
  const out = new Float32Array(dim);
  if (norm === 0) {
    // Every n-gram cancelled out (rare): still answer a deterministic unit vector.
    out[0] = 1;
    return out;
  }
  const inv = 1 / Math.sqrt(norm);
  for (let i = 0; i < dim; i++) out[i] = (acc[i] as number) * inv;
  return out;
}

/** Cosine similarity of two vectors of the same length. */
export function cosineSimilarity(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new RangeError(`vectors differ in length: ${a.length} vs ${b.length}`);
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] as number;
    const y = b[i] as number;
    dot += x * y;
    na += x * x;
    nb += y * y;
  }
  return na === 0 || nb === 0 ? 0 : dot / Math.sqrt(na * nb);
}

/** OpenAI's `encoding_format: "base64"`: little-endian float32 bytes, base64-encoded. */
export function embeddingToBase64(vector: Float32Array): string {
  return Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength).toString('base64');
}

/** Float32 values as plain numbers (JSON `encoding_format: "float"`, Ollama). */
export function embeddingToArray(vector: Float32Array): number[] {
  return Array.from(vector);
}
