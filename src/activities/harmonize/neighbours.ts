// Neighbours and skip verdicts of a chunk of a group's words: the nearest words with the same
// label at the same merchant (exact over the group's vectors, or Chroma's index for very large
// groups), judged by the skip rules; written to `neighbours-<c>.json`.
import {
  PROMPT_NEIGHBOURS,
  exactNeighboursYielding,
  groupVerdicts,
  type SkipRules,
} from '../../domain/harmonization';
import type { ChromaStore } from '../../stores/chroma';
import { round } from '../shared/report-math';
import { heartbeating } from '../shared/heartbeating';
import type { HarmonizationDeps } from './deps';
import { getJson, neighboursKey, putJson, wordsKey } from './s3-keys';
import type { GroupRef, GroupWord, NeighbourEntry, WordsFile } from './types';

export interface FindNeighboursInput extends GroupRef {
  chunkIndex: number;
  chunkSize: number;
  exact: boolean;
  rules: SkipRules;
}

type Neighbour = { id: string; document: string; similarity: number };
type VerdictCounts = Record<NeighbourEntry['verdict'], number>;

/** Exact neighbours among the words given. Seconds of CPU for a large group: sliced, so heartbeats run. */
async function exactNeighboursOf(
  present: GroupWord[],
  vectors: number[][],
  k: number,
): Promise<Map<string, Neighbour[]>> {
  const out = new Map<string, Neighbour[]>();
  (await exactNeighboursYielding(vectors, k)).forEach((hits, i) =>
    out.set(
      present[i]!.id,
      hits.map((h) => ({
        id: present[h.index]!.id,
        document: present[h.index]!.document,
        similarity: h.similarity,
      })),
    ),
  );
  return out;
}

/** Neighbours from Chroma's index, within the group (same merchant and label), the word itself left out. */
async function indexedNeighboursOf(
  chroma: ChromaStore,
  ref: GroupRef,
  present: GroupWord[],
  vectors: number[][],
  k: number,
): Promise<Map<string, Neighbour[]>> {
  const results = await chroma.query(
    'WORD',
    vectors,
    { merchantId: ref.merchantId, label: ref.label },
    k + 1,
  );
  return new Map(present.map((w, i) => [w.id, (results[i] ?? []).filter((nb) => nb.id !== w.id)]));
}

/**
 * Each word's entry. Verdicts are judged over the chunk's words together (the whole group when
 * neighbours are exact): "isolated" needs a group whose label has a settled form (domain/harmonization.ts).
 */
function neighbourEntries(
  chunkWords: GroupWord[],
  neighboursOf: Map<string, Neighbour[]>,
  rules: SkipRules,
): { entries: NeighbourEntry[]; counts: VerdictCounts } {
  const counts: VerdictCounts = { consistent: 0, isolated: 0, decide: 0, missing: 0 };
  const embedded = chunkWords.filter((w) => neighboursOf.has(w.id));
  const verdictOf = new Map(
    groupVerdicts(
      embedded.map((w) => neighboursOf.get(w.id)!.map((nb) => nb.similarity)),
      rules,
    ).map((v, i) => [embedded[i]!.id, v]),
  );
  const entries = chunkWords.map((w): NeighbourEntry => {
    const others = neighboursOf.get(w.id);
    if (!others) {
      counts.missing++;
      return { wordId: w.id, verdict: 'missing', similar: 0, nearest: null, neighbours: [] };
    }
    const similarities = others.map((nb) => nb.similarity);
    const verdict = verdictOf.get(w.id)!;
    counts[verdict]++;
    return {
      wordId: w.id,
      verdict,
      similar: similarities.filter((s) => s >= rules.similarity).length,
      nearest: similarities.length ? round(Math.max(...similarities)) : null,
      neighbours: others
        .slice(0, PROMPT_NEIGHBOURS)
        .map((nb) => ({ text: nb.document, similarity: round(nb.similarity) })),
    };
  });
  return { entries, counts };
}

export function createNeighbourActivities({ chroma, objects }: HarmonizationDeps) {
  return {
    /**
     * For one chunk of the group's words: their vectors from Chroma, the nearest words with the
     * same label at the same merchant (exact over the group's vectors, or Chroma's index for very
     * large groups), and the skip-rule verdict; writes `neighbours-<c>.json`.
     */
    async findWordNeighbours(input: FindNeighboursInput): Promise<VerdictCounts> {
      return heartbeating(async () => {
        const file = await getJson<WordsFile>(objects, wordsKey(input));
        const k = Math.max(input.rules.consistentNeighbours, PROMPT_NEIGHBOURS);
        const chunkWords = input.exact
          ? file.words
          : file.words.slice(input.chunkIndex * input.chunkSize, (input.chunkIndex + 1) * input.chunkSize);
        const vectors = await chroma.get(
          'WORD',
          chunkWords.map((w) => w.id),
          { vectors: true },
        );
        const present = chunkWords.filter((w) => vectors.get(w.id)?.vector);
        const presentVectors = present.map((w) => vectors.get(w.id)!.vector!);
        const neighboursOf = input.exact
          ? await exactNeighboursOf(present, presentVectors, k)
          : await indexedNeighboursOf(chroma, input, present, presentVectors, k);
        const { entries, counts } = neighbourEntries(chunkWords, neighboursOf, input.rules);
        await putJson(objects, neighboursKey(input, input.chunkIndex), entries);
        return counts;
      });
    },
  };
}
