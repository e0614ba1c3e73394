// Pure logic of the label harmonizer (seed 001): the text a word is embedded as, the skip rules that
// decide a word from its Chroma neighbours alone, and the grouping of the rest into LLM batches.
// No Node built-ins and no zod: workflow code imports the defaults from here.

export interface SkipRules {
  /**
   * Cosine similarity at or above which a neighbour (same label, same merchant) counts as similar.
   * @default 0.8
   */
  similarity: number;
  /**
   * A word with at least this many similar neighbours is consistent: decided without an LLM call
   * (the seed's ">= 10 similar").
   * @default 10
   */
  consistentNeighbours: number;
  /**
   * A word whose nearest neighbour is below this similarity is an outlier, decided without an LLM
   * call (the seed's "0 similar", measured at a looser threshold: see docs/ARCHITECTURE.md).
   * @default 0.4
   */
  isolatedSimilarity: number;
  /**
   * The "isolated -> outlier" rule holds only in a group where at least this share of the words are
   * consistent (the label has a settled form at this merchant). In a small group (a merchant with
   * one or two receipts: no word has 10 neighbours) or a diverse one (amounts at a merchant with few
   * receipts) a word is unlike the others merely because there are few like it, so the LLM decides
   * (issue 14: the demo's 2.6k words had precision 0.794 against 0.995 on 13k; 0.986 with this rule).
   * @default 0.5
   */
  isolatedMinConsistentShare: number;
}

export const DEFAULT_SKIP_RULES: Readonly<SkipRules> = {
  similarity: 0.8,
  consistentNeighbours: 10,
  isolatedSimilarity: 0.4,
  isolatedMinConsistentShare: 0.5,
};

/** Words per outlier-decision LLM call (the seed's batch size). */
export const DEFAULT_DECISION_BATCH_SIZE = 10;
/** Texts per embedding call. */
export const DEFAULT_EMBED_BATCH_SIZE = 256;
/** Words whose neighbours one activity looks up. */
export const DEFAULT_NEIGHBOUR_CHUNK_SIZE = 500;
/** Nearest neighbours shown to the LLM with each word. */
export const PROMPT_NEIGHBOURS = 5;
/**
 * Groups up to this many words get exact neighbours (all pairs, from their vectors); larger ones
 * ask Chroma's approximate index. Measured on 13.9k words: exact ~1 s, deterministic; Chroma's
 * filtered HNSW query ~60 s and 98 words off, changing as the index grows (docs/ARCHITECTURE.md).
 */
export const DEFAULT_EXACT_NEIGHBOURS_MAX = 5000;

export function applySkipRuleDefaults(rules: Partial<SkipRules> = {}): SkipRules {
  return { ...DEFAULT_SKIP_RULES, ...rules };
}

/** What is wrong with a set of rules (empty when valid). */
export function skipRuleProblems(r: SkipRules): string[] {
  const problems: string[] = [];
  const unit = (name: string, v: number) => {
    if (!(v >= 0 && v <= 1)) problems.push(`${name} must be within [0, 1], got ${v}`);
  };
  unit('similarity', r.similarity);
  unit('isolatedSimilarity', r.isolatedSimilarity);
  if (!Number.isInteger(r.consistentNeighbours) || r.consistentNeighbours < 1)
    problems.push(`consistentNeighbours must be an integer >= 1, got ${r.consistentNeighbours}`);
  unit('isolatedMinConsistentShare', r.isolatedMinConsistentShare);
  if (r.isolatedSimilarity > r.similarity)
    problems.push(
      `isolatedSimilarity (${r.isolatedSimilarity}) must not exceed similarity (${r.similarity})`,
    );
  return problems;
}

/** How a word is decided: by a skip rule, or by the LLM. */
export type SkipVerdict = 'consistent' | 'isolated' | 'decide';

/**
 * Applies the skip rules to a word's neighbour similarities (itself excluded, any order).
 * A word with no neighbour at all (alone in its group) has nothing to be unlike, so the LLM decides.
 * `groupVerdicts` then withdraws "isolated" in groups without a settled form.
 */
export function skipVerdict(similarities: readonly number[], rules: SkipRules): SkipVerdict {
  if (similarities.length === 0) return 'decide';
  let similar = 0;
  let nearest = -Infinity;
  for (const s of similarities) {
    if (s >= rules.similarity) similar++;
    if (s > nearest) nearest = s;
  }
  if (similar >= rules.consistentNeighbours) return 'consistent';
  if (nearest < rules.isolatedSimilarity) return 'isolated';
  return 'decide';
}

/**
 * The verdicts of a group's words (each word's neighbour similarities): `skipVerdict`, except that
 * "isolated" becomes "decide" unless at least `isolatedMinConsistentShare` of the words are consistent.
 */
export function groupVerdicts(
  similarities: ReadonlyArray<readonly number[]>,
  rules: SkipRules,
): SkipVerdict[] {
  const verdicts = similarities.map((s) => skipVerdict(s, rules));
  // Rules from an older caller (a saved workflow input) have no share: the default holds.
  const minShare = rules.isolatedMinConsistentShare ?? DEFAULT_SKIP_RULES.isolatedMinConsistentShare;
  const consistent = verdicts.filter((v) => v === 'consistent').length;
  if (verdicts.length > 0 && consistent >= minShare * verdicts.length) return verdicts;
  return verdicts.map((v) => (v === 'isolated' ? 'decide' : v));
}

export interface NeighbourHit {
  /** Index of the neighbour in the input. */
  index: number;
  similarity: number;
}

/** Longest stretch `exactNeighboursYielding` computes before it lets other callbacks run. */
export const NEIGHBOUR_SLICE_MS = 10;

/**
 * The `k` nearest other vectors of every vector by cosine similarity, nearest first, ties by index:
 * exact and deterministic (all pairs, O(n^2 d)), for groups small enough to afford it. Synchronous:
 * for small inputs and tools; a process that holds LLM permits uses `exactNeighboursYielding`.
 */
export function exactNeighbours(vectors: ReadonlyArray<ArrayLike<number>>, k: number): NeighbourHit[][] {
  const rows = neighbourRows(vectors, k);
  for (;;) {
    const step = rows.next();
    if (step.done) return step.value;
  }
}

/**
 * `exactNeighbours`, the same result, computed in slices of about `sliceMs` with the event loop
 * free in between: a group of thousands of words costs seconds of CPU, and a blocked loop would
 * stop heartbeats and permit-lease renewals of every call this process runs, so leases lapse.
 */
export async function exactNeighboursYielding(
  vectors: ReadonlyArray<ArrayLike<number>>,
  k: number,
  sliceMs = NEIGHBOUR_SLICE_MS,
): Promise<NeighbourHit[][]> {
  const rows = neighbourRows(vectors, k);
  let sliceStart = performance.now();
  for (;;) {
    const step = rows.next();
    if (step.done) return step.value;
    if (performance.now() - sliceStart >= sliceMs) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      sliceStart = performance.now();
    }
  }
}

/** The all-pairs loop, pausing (`yield`) after each row so a caller can slice it. */
function* neighbourRows(
  vectors: ReadonlyArray<ArrayLike<number>>,
  k: number,
): Generator<void, NeighbourHit[][], void> {
  const n = vectors.length;
  const dim = n ? vectors[0]!.length : 0;
  const flat = new Float64Array(n * dim);
  vectors.forEach((v, i) => {
    if (v.length !== dim) throw new RangeError(`vector ${i} has ${v.length} dimensions, expected ${dim}`);
    let norm = 0;
    for (let d = 0; d < dim; d++) norm += (v[d] as number) * (v[d] as number);
    const inv = norm > 0 ? 1 / Math.sqrt(norm) : 0;
    for (let d = 0; d < dim; d++) flat[i * dim + d] = (v[d] as number) * inv;
  });
  const best: NeighbourHit[][] = Array.from({ length: n }, () => []);
  const offer = (list: NeighbourHit[], hit: NeighbourHit) => {
    if (list.length === k && !better(hit, list[k - 1]!)) return;
    let at = list.length;
    while (at > 0 && better(hit, list[at - 1]!)) at--;
    list.splice(at, 0, hit);
    if (list.length > k) list.pop();
  };
  for (let i = 0; i < n; i++) {
    const oi = i * dim;
    for (let j = i + 1; j < n; j++) {
      const oj = j * dim;
      let dot = 0;
      for (let d = 0; d < dim; d++) dot += flat[oi + d]! * flat[oj + d]!;
      offer(best[i]!, { index: j, similarity: dot });
      offer(best[j]!, { index: i, similarity: dot });
    }
    yield;
  }
  return best;
}

function better(a: NeighbourHit, b: NeighbourHit): boolean {
  return a.similarity > b.similarity || (a.similarity === b.similarity && a.index < b.index);
}

/**
 * Keeps the first item of each decision key and cuts the result into batches: identical words
 * (merchant names repeat on every receipt) are decided once.
 */
export function decisionBatches<T extends { key: string }>(items: readonly T[], batchSize: number): T[][] {
  if (!Number.isInteger(batchSize) || batchSize < 1)
    throw new RangeError(`batch size must be an integer >= 1, got ${batchSize}`);
  const seen = new Set<string>();
  const unique: T[] = [];
  for (const item of items) {
    if (seen.has(item.key)) continue;
    seen.add(item.key);
    unique.push(item);
  }
  const out: T[][] = [];
  for (let i = 0; i < unique.length; i += batchSize) out.push(unique.slice(i, i + batchSize));
  return out;
}

/** Where a group's intermediate files live in S3 (hand-offs between activities). */
export function harmonizeArtifactKey(
  ref: { runId: string; merchantId: string; label: string },
  name: string,
): string {
  return `${harmonizeArtifactPrefix(ref)}${name}`;
}

export function harmonizeArtifactPrefix(ref: { runId: string; merchantId: string; label: string }): string {
  return `harmonize/${ref.runId}/${ref.merchantId}/${ref.label}/`;
}

/** `name-00012.json` */
export function indexedName(name: string, index: number): string {
  return `${name}-${String(index).padStart(5, '0')}.json`;
}
