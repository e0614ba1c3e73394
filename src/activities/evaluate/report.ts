// The evaluation's run report: results and LLM call records of a run aggregated, scored against the
// truth when one is known, and written on the run record.
import { scoreDecisions, type ScoredDecision } from '../../domain/scoring';
import { summarizeCalls } from '../../llm/accounting';
import type { ItemResult } from '../../stores/runs';
import { readTruth } from '../../stores/truth';
import type { EvaluationDeps, EvaluationReport } from './types';
import { round } from '../shared/report-math';
import { batchModeSummary } from '../batch-mode/report';
import { reportFailures, reportHead, type ReportRequest, storeRunReport } from '../shared/run-report';

interface ResultDetail {
  issues?: number;
  reviews?: Array<{ wordId: string; decision: string }>;
  failedChunks?: number;
}

export function createEvaluateReportActivities({
  runs,
  truthFile,
}: Pick<EvaluationDeps, 'runs' | 'truthFile'>) {
  return {
    /** Aggregates results and LLM call records of a run; scores against the truth when known. */
    async buildEvaluationReport(
      input: ReportRequest & {
        /** How the run's prompts were sent. @default 'realtime' */
        mode?: 'realtime' | 'batch';
      },
    ): Promise<EvaluationReport> {
      const [results, calls, truth] = await Promise.all([
        runs.listResults(input.runId),
        runs.listCalls(input.runId),
        readTruth(truthFile),
      ]);
      const { decisions, issuesFound, failedChunks, reviewed } = tally(results);
      const failed = results.filter((r) => r.status === 'FAILED');
      const report: EvaluationReport = {
        ...reportHead('evaluate', input, results),
        issuesFound,
        decisions,
        failedChunks,
        failures: reportFailures(failed),
        llm: summarizeCalls(calls),
        makespanMs: input.makespanMs,
        mode: input.mode ?? 'realtime',
        ...(input.mode === 'batch' ? { batch: batchModeSummary(calls) } : {}),
      };
      const planted = truth?.planted;
      if (planted && Object.keys(planted).length > 0) {
        const receiptIds = new Set(results.map((r) => r.itemId));
        const plantedHere = Object.keys(planted).filter((w) => receiptIds.has(w.split('#')[0]!));
        const score = scoreDecisions(reviewed as ScoredDecision[], new Set(plantedHere));
        report.scores = {
          precision: round(score.precision),
          recall: round(score.recall),
          planted: plantedHere.length,
        };
      }
      return storeRunReport(runs, input, report);
    },
  };
}

/** Decisions by kind, issues and failed chunks summed over the results, and every word reviewed. */
function tally(results: readonly ItemResult[]) {
  const decisions: Record<string, number> = { VALID: 0, INVALID: 0, NEEDS_REVIEW: 0 };
  let issuesFound = 0;
  let failedChunks = 0;
  const reviewed: Array<{ wordId: string; decision: string }> = [];
  for (const r of results) {
    const d = (r.detail ?? {}) as ResultDetail;
    issuesFound += d.issues ?? 0;
    failedChunks += d.failedChunks ?? 0;
    for (const rev of d.reviews ?? []) {
      decisions[rev.decision] = (decisions[rev.decision] ?? 0) + 1;
      reviewed.push(rev);
    }
  }
  return { decisions, issuesFound, failedChunks, reviewed };
}
