// A group's plan: which words the skip rules decide, which the decision cache serves, and the rest
// deduplicated by decision key into LLM batches (`batch-<b>.json`), all recorded in `plan.json`.
import { decisionBatches } from '../../domain/harmonization';
import { decisionKey, type OutlierDecision } from '../../stores/outlier-decisions';
import type { ObjectStore } from '../../stores/s3';
import { heartbeating } from '../shared/heartbeating';
import type { HarmonizationDeps } from './deps';
import { batchKey, getJson, neighboursKey, planKey, putJson, wordsKey } from './s3-keys';
import type {
  DecisionBatchFile,
  DecisionRule,
  GroupRef,
  GroupWord,
  NeighbourEntry,
  PlanFile,
  PlanSummary,
  WordsFile,
} from './types';

export interface PlanDecisionsInput extends GroupRef {
  neighbourChunks: number;
  batchSize: number;
  noCache: boolean;
}

/** A word the skip rules leave to the LLM (or the cache), with its decision key. */
type Undecided = { word: GroupWord; key: string; entry: NeighbourEntry };

async function readNeighbours(
  objects: ObjectStore,
  input: PlanDecisionsInput,
): Promise<Map<string, NeighbourEntry>> {
  const entries: NeighbourEntry[] = [];
  for (let c = 0; c < input.neighbourChunks; c++)
    entries.push(...(await getJson<NeighbourEntry[]>(objects, neighboursKey(input, c))));
  return new Map(entries.map((e) => [e.wordId, e]));
}

const emptySummary = (): PlanSummary => ({
  batches: 0,
  consistent: 0,
  isolated: 0,
  cached: 0,
  llm: 0,
  shared: 0,
  missing: 0,
});

/** The words the skip rules decide go into the plan; the others are returned, keyed. */
function planRuleDecided(
  input: PlanDecisionsInput,
  words: GroupWord[],
  neighboursOf: Map<string, NeighbourEntry>,
  plan: PlanFile,
  summary: PlanSummary,
): Undecided[] {
  const undecided: Undecided[] = [];
  for (const word of words) {
    const entry = neighboursOf.get(word.id);
    const verdict = entry?.verdict ?? 'missing';
    if (verdict === 'decide') {
      undecided.push({ word, key: decisionKey(input.merchantId, input.label, word.document), entry: entry! });
    } else {
      plan.words.push({ wordId: word.id, rule: verdict });
      summary[verdict]++;
    }
  }
  return undecided;
}

function batchFile(merchantName: string, label: string, batch: Undecided[]): DecisionBatchFile {
  return {
    merchantName,
    label,
    items: batch.map((u) => ({
      id: u.word.id,
      text: u.word.text,
      label,
      context: u.word.document,
      neighbours: u.entry.neighbours,
    })),
    keys: batch.map((u) => u.key),
  };
}

export function createPlanActivities({ objects, outlierDecisions }: HarmonizationDeps) {
  return {
    /**
     * Turns verdicts into a plan: rule-decided words, words served by the decision cache (unless
     * `noCache`), and the rest deduplicated by decision key into LLM batches of `batchSize`.
     */
    async planOutlierDecisions(input: PlanDecisionsInput): Promise<PlanSummary> {
      return heartbeating(async () => {
        const file = await getJson<WordsFile>(objects, wordsKey(input));
        const neighboursOf = await readNeighbours(objects, input);
        const summary = emptySummary();
        const plan: PlanFile = { words: [], cached: {} };
        const undecided = planRuleDecided(input, file.words, neighboursOf, plan, summary);
        const cached = input.noCache
          ? new Map<string, OutlierDecision>()
          : await outlierDecisions.getMany(undecided.map((u) => u.key));
        const batches = decisionBatches(
          undecided.filter((u) => !cached.has(u.key)),
          input.batchSize,
        );
        const representatives = new Set(batches.flat().map((u) => u.word.id));
        for (const u of undecided) {
          const rule: DecisionRule = cached.has(u.key)
            ? 'cached'
            : representatives.has(u.word.id)
              ? 'llm'
              : 'shared';
          if (rule === 'cached') plan.cached[u.key] = cached.get(u.key)!;
          plan.words.push({ wordId: u.word.id, rule, key: u.key });
          summary[rule]++;
        }
        for (const [b, batch] of batches.entries())
          await putJson(objects, batchKey(input, b), batchFile(file.merchantName, input.label, batch));
        await putJson(objects, planKey(input), plan);
        summary.batches = batches.length;
        return summary;
      });
    },
  };
}
