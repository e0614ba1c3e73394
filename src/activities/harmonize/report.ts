// The harmonizer run's report: per-word results and LLM call records aggregated, scored against
// the planted errors when the truth file knows them, and stored on the run.
import { scoreDecisions } from '../../domain/scoring';
import { summarizeCalls, type CallRecord } from '../../llm/accounting';
import type { ItemResult } from '../../stores/runs';
import { readTruth } from '../../stores/truth';
import { heartbeating } from '../shared/heartbeating';
import { round } from '../shared/report-math';
import { reportFailures, type ReportRequest, type RunReportBase, storeRunReport } from '../shared/run-report';
import type { HarmonizationDeps } from './deps';

export interface HarmonizeReport extends RunReportBase<'harmonize'> {
  /** Items are words: every labelled word of the selected groups. */
  total: number;
  words: number;
  outliers: number;
  skipped: {
    /** Enough similar neighbours: consistent, no LLM call. */
    consistentByNeighbours: number;
    /** No neighbour even loosely similar: outlier, no LLM call. */
    outlierNoNeighbours: number;
    /** Decision found in the decision cache (an earlier run). */
    cached: number;
    /** Same word in the same context as another word of this run: decided once. */
    sameTextInRun: number;
  };
  /** Words whose decision came from this run's LLM calls. */
  llmDecided: number;
  llmCalls: { outlierDecisions: number; embeddings: number };
  /** Outlier-decision LLM calls per 1,000 words (one call per word would be 1,000). */
  callsPer1000Words: number;
  groups: number;
  failedBatches: number;
  scores?: { precision: number; recall: number; planted: number };
}

export interface HarmonizeReportInput extends ReportRequest {
  groups: number;
  failedBatches: number;
}

/** A word's result (a group that failed as a whole has a result without a rule). */
function isWordResult(r: ItemResult): boolean {
  return typeof r.detail?.rule === 'string';
}

/** The report's figures from a run's results and call records (pure; scores are added after). */
export function harmonizeReportOf(
  input: HarmonizeReportInput,
  results: readonly ItemResult[],
  calls: readonly CallRecord[],
): HarmonizeReport {
  const wordResults = results.filter(isWordResult);
  const rules = new Map<string, number>();
  for (const r of wordResults) {
    if (r.status !== 'SUCCEEDED') continue;
    const rule = String(r.detail?.rule);
    rules.set(rule, (rules.get(rule) ?? 0) + 1);
  }
  const decisionCalls = calls.filter((c) => c.task === 'label_outlier' && c.status !== 'cache_hit').length;
  // Calls that reached the provider: a batch whose every text had a cached vector is a cache_hit.
  const embedCalls = calls.filter((c) => c.task === 'embed' && c.status !== 'cache_hit').length;
  const failedResults = results.filter((r) => r.status === 'FAILED');
  return {
    runId: input.runId,
    pipeline: 'harmonize',
    status: input.status,
    total: results.length,
    succeeded: results.length - failedResults.length,
    failed: failedResults.length,
    words: wordResults.length,
    outliers: wordResults.filter((r) => r.detail?.outlier === true).length,
    skipped: {
      consistentByNeighbours: rules.get('consistent') ?? 0,
      outlierNoNeighbours: rules.get('isolated') ?? 0,
      cached: rules.get('cached') ?? 0,
      sameTextInRun: rules.get('shared') ?? 0,
    },
    llmDecided: rules.get('llm') ?? 0,
    llmCalls: { outlierDecisions: decisionCalls, embeddings: embedCalls },
    callsPer1000Words: wordResults.length ? round((decisionCalls * 1000) / wordResults.length) : 0,
    groups: input.groups,
    failedBatches: input.failedBatches,
    failures: reportFailures(failedResults),
    llm: summarizeCalls([...calls]),
    makespanMs: input.makespanMs,
  };
}

/** Precision and recall of the outlier verdicts against the planted errors among the run's words. */
function harmonizeScores(
  results: readonly ItemResult[],
  planted: Record<string, unknown>,
): HarmonizeReport['scores'] {
  const wordResults = results.filter(isWordResult);
  const harmonized = new Set(wordResults.map((r) => r.itemId));
  const plantedHere = Object.keys(planted).filter((w) => harmonized.has(w));
  // An outlier verdict is the harmonizer's "INVALID": scored like the evaluation's decisions.
  const decisions = wordResults.map((r) => ({
    wordId: r.itemId,
    decision: r.detail?.outlier === true ? ('INVALID' as const) : ('VALID' as const),
  }));
  const score = scoreDecisions(decisions, new Set(plantedHere));
  return { precision: round(score.precision), recall: round(score.recall), planted: plantedHere.length };
}

export function createReportActivities({ runs, truthFile }: HarmonizationDeps) {
  return {
    /** Aggregates per-word results and LLM call records; scores against the planted errors. */
    async buildHarmonizeReport(input: HarmonizeReportInput): Promise<HarmonizeReport> {
      return heartbeating(async () => {
        const [results, calls, truth] = await Promise.all([
          runs.listResults(input.runId),
          runs.listCalls(input.runId),
          readTruth(truthFile),
        ]);
        const report = harmonizeReportOf(input, results, calls);
        const planted = truth?.planted;
        if (planted && Object.keys(planted).length > 0) report.scores = harmonizeScores(results, planted);
        return storeRunReport(runs, input, report);
      });
    },
  };
}
