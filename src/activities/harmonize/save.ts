// A group's last step: a RESULT per word (its decision and the rule that made it, or why it has
// none), new decisions into the decision cache, changed verdicts onto the word items; then only
// `summary.json` of the group's files is kept, and answers a retry.
import { harmonizeArtifactPrefix } from '../../domain/harmonization';
import { emptyGroupSummary } from '../../domain/harmonization-summary';
import type { OutlierDecision } from '../../stores/outlier-decisions';
import type { ItemResult } from '../../stores/runs';
import type { ObjectStore } from '../../stores/s3';
import { heartbeating } from '../shared/heartbeating';
import type { HarmonizationDeps } from './deps';
import { batchKey, decisionsKey, getJson, planKey, putJson, summaryKey, wordsKey } from './s3-keys';
import type {
  DecisionBatchFile,
  DecisionsFile,
  FailedBatch,
  GroupRef,
  GroupSummary,
  PlanFile,
  WordsFile,
} from './types';

export interface SaveGroupInput extends GroupRef {
  batches: number;
  failedBatches: FailedBatch[];
  failedEmbedBatches: FailedBatch[];
}

const CONSISTENT: OutlierDecision = {
  outlier: false,
  suggestedLabel: null,
  reason: 'Many similar words carry this label here.',
};
const ISOLATED: OutlierDecision = {
  outlier: true,
  suggestedLabel: null,
  reason: 'Unlike every other word with this label at this merchant.',
};

interface GroupDecisions {
  /** Every decision known for the group, by decision key: cached ones and this run's. */
  decided: Map<string, OutlierDecision>;
  /** This run's LLM decisions, for the decision cache. */
  fresh: Array<{ key: string; decision: OutlierDecision }>;
  /** Why a decision key has no decision: its LLM batch failed. */
  failedKeys: Map<string, string>;
}

/** The plan's cached decisions and those of every LLM batch (a failed batch names its keys). */
async function readDecisions(
  objects: ObjectStore,
  input: SaveGroupInput,
  plan: PlanFile,
): Promise<GroupDecisions> {
  const failedBatch = new Map(input.failedBatches.map((f) => [f.batchIndex, f.reason]));
  const out: GroupDecisions = {
    decided: new Map(Object.entries(plan.cached)),
    fresh: [],
    failedKeys: new Map(),
  };
  for (let b = 0; b < input.batches; b++) {
    const reason = failedBatch.get(b);
    if (reason !== undefined) {
      const batch = await getJson<DecisionBatchFile>(objects, batchKey(input, b));
      for (const key of batch.keys) out.failedKeys.set(key, `LLM batch ${b} failed: ${reason}`);
      continue;
    }
    const d = await getJson<DecisionsFile>(objects, decisionsKey(input, b));
    for (const { key, outlier, suggestedLabel, reason: why } of d.decisions) {
      const decision = { outlier, suggestedLabel, reason: why };
      out.decided.set(key, decision);
      out.fresh.push({ key, decision });
    }
  }
  return out;
}

function missingReasonOf(failedEmbedBatches: FailedBatch[]): string {
  if (!failedEmbedBatches.length) return 'no embedding in Chroma';
  return `no embedding (embedding failed: ${failedEmbedBatches.map((f) => f.reason).join('; ')})`.slice(
    0,
    500,
  );
}

/** A word's decision, or the reason it has none. */
function decisionOf(
  w: PlanFile['words'][number],
  known: GroupDecisions,
  missingReason: string,
): { decision?: OutlierDecision; reason?: string } {
  if (w.rule === 'consistent') return { decision: CONSISTENT };
  if (w.rule === 'isolated') return { decision: ISOLATED };
  if (w.rule === 'missing') return { reason: missingReason };
  const decision = known.decided.get(w.key!);
  if (decision) return { decision };
  return { reason: known.failedKeys.get(w.key!) ?? 'no decision recorded for this word' };
}

/** One result per planned word, the group's counts, and the verdicts that changed since the last run. */
function groupResults(input: SaveGroupInput, file: WordsFile, plan: PlanFile, known: GroupDecisions) {
  const previous = new Map(file.words.map((w) => [w.id, w.previousOutlier ?? false]));
  const missingReason = missingReasonOf(input.failedEmbedBatches);
  const at = Date.now();
  const summary: GroupSummary = {
    ...emptyGroupSummary(input.merchantId, input.label),
    words: plan.words.length,
    batches: input.batches,
    failedBatches: input.failedBatches.length,
  };
  const results: ItemResult[] = [];
  const changed: Array<OutlierDecision & { wordId: string }> = [];
  for (const w of plan.words) {
    const { decision, reason } = decisionOf(w, known, missingReason);
    const base = { merchantId: input.merchantId, label: input.label, rule: w.rule };
    const result = { runId: input.runId, itemId: w.wordId, attempt: 1, at };
    if (!decision) {
      summary.failed++;
      results.push({ ...result, status: 'FAILED', reason: reason!, detail: base });
      continue;
    }
    summary.succeeded++;
    if (w.rule !== 'missing') summary[w.rule]++;
    if (decision.outlier) summary.outliers++;
    const detail = {
      ...base,
      outlier: decision.outlier,
      ...(decision.suggestedLabel ? { suggestedLabel: decision.suggestedLabel } : {}),
    };
    results.push({ ...result, status: 'SUCCEEDED', detail });
    if (decision.outlier !== (previous.get(w.wordId) ?? false))
      changed.push({ wordId: w.wordId, ...decision });
  }
  return { summary, results, changed };
}

export function createSaveActivities({ objects, outlierDecisions, runs, receipts }: HarmonizationDeps) {
  return {
    /**
     * Saves the group: a RESULT per word (decision, rule), new decisions into the cache, changed
     * verdicts onto the word items; then keeps only `summary.json` of the group's files. A retry
     * after that returns the summary.
     */
    async saveHarmonizeResults(input: SaveGroupInput): Promise<GroupSummary> {
      return heartbeating(async () => {
        const done = await objects.getText(summaryKey(input));
        if (done !== undefined) return JSON.parse(done) as GroupSummary;
        const file = await getJson<WordsFile>(objects, wordsKey(input));
        const plan = await getJson<PlanFile>(objects, planKey(input));
        const known = await readDecisions(objects, input, plan);
        const { summary, results, changed } = groupResults(input, file, plan, known);
        await outlierDecisions.putMany(known.fresh);
        await runs.putResults(results);
        await receipts.setOutlierVerdicts(input.runId, changed);
        summary.verdictsChanged = changed.length;
        await putJson(objects, summaryKey(input), summary);
        // The hand-off files served their purpose; the summary answers a retry of this activity.
        for (const key of await objects.list(harmonizeArtifactPrefix(input)))
          if (key !== summaryKey(input)) await objects.delete(key);
        return summary;
      });
    },
  };
}
