// The enrichment run's report: places enriched and failed, LLM cost per place, and accuracy
// against the seeded truth when known; stored on the run.
import type { Truth } from '../../domain/llm-tasks';
import { summarizeCalls } from '../../llm/accounting';
import { batchModeSummary } from '../batch-mode/report';
import type { ItemResult } from '../../stores/runs';
import { readTruth } from '../../stores/truth';
import { ratio } from '../shared/report-math';
import type { EnrichmentDeps, EnrichmentReport } from './types';
import { reportFailures, reportHead, type ReportRequest, storeRunReport } from '../shared/run-report';

type EnrichmentDetail = { amenities: string[]; hasWomenOnlyHours: boolean };

/** The same amenities, in any order and case. */
function sameAmenities(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((x) => b.map((y) => y.toLowerCase()).includes(x.toLowerCase()));
}

/** Exact answers per field over the places the truth knows. */
function accuracyOf(succeeded: ItemResult[], truth: Truth | undefined): EnrichmentReport['accuracy'] {
  const known = truth?.places ?? {};
  const judged = succeeded.filter((r) => known[r.itemId]);
  if (!judged.length) return undefined;
  const detail = (r: ItemResult) => r.detail as unknown as EnrichmentDetail;
  return {
    womenOnlyHours: ratio(
      judged.filter((r) => detail(r).hasWomenOnlyHours === known[r.itemId]!.hasWomenOnlyHours).length,
      judged.length,
    ),
    amenities: ratio(
      judged.filter((r) => sameAmenities(detail(r).amenities, known[r.itemId]!.amenities)).length,
      judged.length,
    ),
    judged: judged.length,
  };
}

export function createEnrichmentReportActivities({ runs, truthFile }: EnrichmentDeps) {
  return {
    async buildEnrichmentReport(input: ReportRequest): Promise<EnrichmentReport> {
      const [results, calls, truth, meta] = await Promise.all([
        runs.listResults(input.runId),
        runs.listCalls(input.runId),
        readTruth(truthFile),
        runs.getRun(input.runId),
      ]);
      const batchMode = meta?.params?.mode === 'batch';
      const llm = summarizeCalls(calls);
      const succeeded = results.filter((r) => r.status === 'SUCCEEDED');
      const failed = results.filter((r) => r.status === 'FAILED');
      const report: EnrichmentReport = {
        ...reportHead('enrich', input, results),
        placesEnriched: succeeded.length,
        placesFailed: failed.length,
        llmCallsPerPlace: ratio(llm.calls, results.length, 2),
        promptTokensPerPlace: ratio(llm.promptTokens, results.length, 2),
        failures: reportFailures(failed),
        llm,
        makespanMs: input.makespanMs,
        mode: batchMode ? 'batch' : 'realtime',
        ...(batchMode ? { batch: batchModeSummary(calls) } : {}),
      };
      const accuracy = accuracyOf(succeeded, truth);
      if (accuracy) report.accuracy = accuracy;
      return storeRunReport(runs, input, report);
    },
  };
}
