// Test-suite quality analysis (seed 002): one activity reads and parses the files and runs the
// rules; only the functions the rules cannot decide go to the LLM, one call each, all of them
// queued at once behind the `llm` queue's global cap. A failed call leaves that function
// UNANALYZED with its reason; the run completes with a report per file.
import { continueAsNew, workflowInfo } from '@temporalio/workflow';
import type { QualityReport, ScanSummary } from '../../activities/analyze';
import type { UncertainFunction } from '../../domain/quality';
import type { RunProgress } from '../shared';
import { beginRoot, completeRoot, errorMessage, llmProxyFor, rootRun } from '../shared';
import { RunBreaker } from '../run-breaker';
import { checkAnalyzeTestSuiteInput } from '../root-inputs';
import { files, io } from './proxies';
import { applyQualityDefaults, type AnalyzeSettings, type AnalyzeTestSuiteInput } from './settings';

export async function analyzeTestSuite(input: AnalyzeTestSuiteInput): Promise<QualityReport> {
  const runId = input?.runId ?? workflowInfo().workflowId;
  return rootRun({
    runId,
    workflowType: 'analyzeTestSuite',
    failRun: io.failRun,
    checkInput: () => checkAnalyzeTestSuiteInput(input),
    body: () => analyzeTestSuiteRun(input),
  });
}

async function analyzeTestSuiteRun(input: AnalyzeTestSuiteInput): Promise<QualityReport> {
  const s = applyQualityDefaults(input, workflowInfo().workflowId);
  const { startedAt, progress } = beginRoot(s.runId, 'analyze', input.resume);
  const scan = input.resume?.scan ?? (await startScan(input, s, startedAt, progress));
  await analyzeUncertain(input, s, { startedAt, scan, progress });
  return completeRoot(s.runId, startedAt, io.buildQualityReport);
}

/** The run started and its files scanned (first run only). */
async function startScan(
  input: AnalyzeTestSuiteInput,
  s: AnalyzeSettings,
  startedAt: number,
  progress: RunProgress,
): Promise<ScanSummary> {
  const { resume: _r, ...params } = input;
  await io.startRun({ runId: s.runId, pipeline: 'analyze', params, startedAt });
  const scan = await files.scanTestSuite({
    runId: s.runId,
    path: input.path,
    s3Prefix: input.s3Prefix,
    s3Bucket: input.s3Bucket,
    rules: input.rules,
    ...(input.redriveOf ? { redriveOf: input.redriveOf } : {}),
  });
  progress.total = scan.uncertain;
  progress.merchantsTotal = scan.files; // shown as files by the progress bar
  progress.merchantsDone = scan.files;
  return scan;
}

/**
 * Every uncertain function analyzed, page by page. Every call of a page is queued at once (the llm
 * queue's cap paces them); the next page is read while the previous one runs, so at most two pages
 * are pending. Continues as new every so many pages.
 */
async function analyzeUncertain(
  input: AnalyzeTestSuiteInput,
  s: AnalyzeSettings,
  { startedAt, scan, progress }: { startedAt: number; scan: ScanSummary; progress: RunProgress },
): Promise<void> {
  // A call refused for the provider's credentials stops the run: the calls queued are cancelled.
  const breaker = new RunBreaker();
  const analyze = analyzeOne(s, progress, breaker);
  let next = input.resume?.next ?? 0;
  let previous: Promise<unknown> = Promise.resolve();
  let pages = 0;
  await breaker.run(async () => {
    while (next < scan.uncertain && !breaker.open) {
      const page = await io.listUncertainFunctions({ runId: s.runId, from: next, limit: s.pageSize });
      if (page.length === 0) break;
      const first = next;
      const current = Promise.all(page.map((fn, i) => analyze(fn, first + i)));
      await previous;
      previous = current;
      next += page.length;
      pages++;
      if (
        next < scan.uncertain &&
        (pages >= s.continueAsNewAfterPages || workflowInfo().continueAsNewSuggested)
      ) {
        await previous;
        breaker.throwIfOpen();
        await continueAsNew<typeof analyzeTestSuite>({
          ...input,
          resume: { next, startedAt, scan, progress },
        });
      }
    }
    await previous;
  });
}

/** One function's LLM call and its verdict saved, or the function recorded UNANALYZED. */
function analyzeOne(s: AnalyzeSettings, progress: RunProgress, breaker: RunBreaker) {
  // Activity id = the function's index in the run: unique across continue-as-new runs of this
  // workflow id, so call records (keyed by workflow id + activity id + attempt) never collide.
  const llm = llmProxyFor(s.runId, s.priority, s.llmTaskQueue);
  const llmFor = (index: number) => llm(`analyze/${index}`);
  return async (fn: UncertainFunction, index: number): Promise<void> => {
    const ref = { id: fn.id, path: fn.path, fullName: fn.fullName, startLine: fn.startLine };
    try {
      const verdict = await llmFor(index).analyzeTestFunction({ runId: s.runId, fn, noCache: s.noCache });
      await io.saveFunctionVerdict({ runId: s.runId, fn: ref, verdict });
      progress.done++;
    } catch (err) {
      if (breaker.trip(err)) return;
      // An invalid answer after repairs, a 400/404, retries spent: this function only.
      await io.recordFunctionUnanalyzed({ runId: s.runId, fn: ref, reason: errorMessage(err) });
      progress.failed++;
    }
  };
}
