// What every run report says, whatever the pipeline: the run, its item counts, the first failures,
// its LLM use and its makespan; each pipeline's report adds its own figures to these.
import type { summarizeCalls } from '../../llm/accounting';
import type { ItemResult, RunStore } from '../../stores/runs';

/** Failed items a report lists (the rest are counted; the run's results hold them all). */
export const REPORT_FAILURES = 20;

export interface RunReportBase<Pipeline extends string, Llm = ReturnType<typeof summarizeCalls>> {
  runId: string;
  pipeline: Pipeline;
  /** How the run ended (COMPLETED when the root built the report). */
  status: string;
  total: number;
  succeeded: number;
  failed: number;
  /** The first `REPORT_FAILURES` failed items, with their reasons. */
  failures: Array<{ itemId: string; reason: string }>;
  llm: Llm;
  makespanMs: number;
}

/** What a root asks its report builder for, as its last step. */
export interface ReportRequest {
  runId: string;
  status: string;
  makespanMs: number;
}

/** The failures a report lists: the first `REPORT_FAILURES` failed results, with their reasons. */
export function reportFailures(failed: readonly ItemResult[]): RunReportBase<string>['failures'] {
  return failed.slice(0, REPORT_FAILURES).map((r) => ({ itemId: r.itemId, reason: r.reason ?? 'unknown' }));
}

/**
 * The fields a report starts with when its items are the run's results: the run, and its results
 * counted (all, SUCCEEDED, FAILED).
 */
export function reportHead<Pipeline extends string>(
  pipeline: Pipeline,
  input: ReportRequest,
  results: readonly ItemResult[],
): Pick<RunReportBase<Pipeline>, 'runId' | 'pipeline' | 'status' | 'total' | 'succeeded' | 'failed'> {
  return {
    runId: input.runId,
    pipeline,
    status: input.status,
    total: results.length,
    succeeded: results.filter((r) => r.status === 'SUCCEEDED').length,
    failed: results.filter((r) => r.status === 'FAILED').length,
  };
}

/**
 * Stores `report` on the run item, the run ending COMPLETED when the request says so (FAILED for
 * any other status), and returns it: every report builder's last step.
 */
export async function storeRunReport<R>(runs: RunStore, input: ReportRequest, report: R): Promise<R> {
  await runs.finishRun(
    input.runId,
    report as unknown as Record<string, unknown>,
    input.status === 'COMPLETED' ? 'COMPLETED' : 'FAILED',
  );
  return report;
}
