// The analysis run's report: per file, the rules' findings and the LLM's issues side by side, the
// functions left UNANALYZED, agreement with the fixture's truth when known; stored on the run (cut
// to counts when it would not fit one DynamoDB item).
import type { Truth } from '../../domain/llm-tasks';
import { summarizeCalls } from '../../llm/accounting';
import { runPartition, type ItemResult } from '../../stores/runs';
import { readTruth } from '../../stores/truth';
import { ratio } from '../shared/report-math';
import { FILE_PREFIX } from './run-items';
import type {
  FunctionResultDetail,
  QualityDeps,
  QualityFileReport,
  QualityIssue,
  QualityReport,
  StoredFile,
} from './types';
import { reportFailures, type ReportRequest, storeRunReport } from '../shared/run-report';

/** The stored report (run META item) stays well under DynamoDB's 400 KB item limit. */
const MAX_STORED_REPORT_CHARS = 300_000;

const detailOf = (r: ItemResult) => r.detail as unknown as FunctionResultDetail;

interface IssueCounts {
  byKind: Record<string, number>;
  byRules: number;
  byLlm: number;
}

/** One file's report: the rules' findings and the LLM's issues in line order, and what is unanalyzed. */
function fileReportOf(f: StoredFile, results: readonly ItemResult[], counts: IssueCounts): QualityFileReport {
  const issues: QualityIssue[] = [];
  for (const fn of f.functions)
    for (const finding of fn.findings) {
      issues.push({ function: fn.name, line: fn.line, ...finding, by: 'rules' });
      counts.byRules++;
    }
  const unanalyzed: string[] = [];
  for (const r of results) {
    const d = detailOf(r);
    if (r.status === 'FAILED') unanalyzed.push(d.name);
    for (const finding of d.issues ?? []) {
      issues.push({
        function: d.name,
        line: d.line,
        kind: finding.kind,
        message: finding.message,
        by: 'llm',
      });
      counts.byLlm++;
    }
  }
  for (const i of issues) counts.byKind[i.kind] = (counts.byKind[i.kind] ?? 0) + 1;
  issues.sort((a, b) => a.line - b.line || (a.by < b.by ? -1 : a.by > b.by ? 1 : 0));
  return {
    path: f.path,
    language: f.language,
    functions: f.functions.length,
    uncertain: f.functions.filter((fn) => fn.uncertain).length,
    issues,
    unanalyzed,
    ...(f.error ? { error: f.error } : {}),
  };
}

function perFileReports(
  files: StoredFile[],
  results: readonly ItemResult[],
  counts: IssueCounts,
): QualityFileReport[] {
  const byPath = new Map<string, ItemResult[]>();
  for (const r of results) {
    const p = detailOf(r).path;
    byPath.set(p, [...(byPath.get(p) ?? []), r]);
  }
  return files
    .sort((a, b) => (a.path < b.path ? -1 : 1))
    .map((f) => fileReportOf(f, byPath.get(f.path) ?? [], counts));
}

/** How often the LLM's hasIssue agrees with the fixture's truth, over the functions it knows. */
function llmAgreementOf(
  results: readonly ItemResult[],
  truth: Truth | undefined,
): QualityReport['llmAgreement'] {
  const known = truth?.functions ?? {};
  const judged = results.filter((r) => r.status === 'SUCCEEDED' && known[r.itemId]);
  if (!judged.length) return undefined;
  const agree = judged.filter((r) => detailOf(r).hasIssue === known[r.itemId]!.hasIssue).length;
  return { agreement: ratio(agree, judged.length), judged: judged.length };
}

/** The report as stored: whole, or cut to counts (the detail stays in the run's FILE#/RESULT# items). */
function storedReportOf(report: QualityReport): QualityReport {
  if (JSON.stringify(report).length <= MAX_STORED_REPORT_CHARS) return report;
  return {
    ...report,
    perFile: report.perFile.map((f) => ({ ...f, issues: [], unanalyzed: f.unanalyzed.slice(0, 5) })),
    unanalyzed: report.unanalyzed.slice(0, 100),
    perFileTruncated: true,
  };
}

export function createQualityReportActivities({ receipts, runs, truthFile }: QualityDeps) {
  return {
    async buildQualityReport(input: ReportRequest): Promise<QualityReport> {
      const [fileItems, results, calls, truth] = await Promise.all([
        receipts.queryPrefix(runPartition(input.runId), FILE_PREFIX),
        runs.listResults(input.runId),
        runs.listCalls(input.runId),
        readTruth(truthFile),
      ]);
      const files = fileItems as unknown as StoredFile[];
      const counts: IssueCounts = { byKind: {}, byRules: 0, byLlm: 0 };
      const perFile = perFileReports(files, results, counts);
      const total = files.reduce((n, f) => n + f.functions.length, 0);
      const failed = results.filter((r) => r.status === 'FAILED');
      const report: QualityReport = {
        runId: input.runId,
        pipeline: 'analyze',
        status: input.status,
        total,
        succeeded: total - failed.length,
        failed: failed.length,
        files: files.length,
        uncertain: perFile.reduce((n, f) => n + f.uncertain, 0),
        analyzedByLlm: results.length - failed.length,
        unanalyzed: failed.map((r) => {
          const d = detailOf(r);
          return { functionId: r.itemId, path: d.path, name: d.name, reason: r.reason ?? 'unknown' };
        }),
        issuesByKind: counts.byKind,
        issuesByRules: counts.byRules,
        issuesByLlm: counts.byLlm,
        perFile,
        failures: reportFailures(failed),
        llm: summarizeCalls(calls),
        makespanMs: input.makespanMs,
      };
      const agreement = llmAgreementOf(results, truth);
      if (agreement) report.llmAgreement = agreement;
      const stored = storedReportOf(report);
      return storeRunReport(runs, input, stored);
    },
  };
}
