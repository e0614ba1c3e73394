// The analysis's first step: every test file read and parsed, its test functions found and judged
// by the rules; each file's findings and the functions the rules cannot decide stored in the run's
// partition (read back in pages by the workflow).
import { ApplicationFailure, Context } from '@temporalio/activity';
import {
  DEFAULT_QUALITY_RULES,
  analyzeTestFile,
  truncateSource,
  type FileAnalysis,
  type QualityRuleOptions,
  type UncertainFunction,
} from '../../domain/quality';
import { runPartition } from '../../stores/runs';
import { TestFileError, type TestFileSource } from '../../stores/test-files';
import { redrivableRun, succeededAlongRedrives } from '../redrive';
import { fileSortKey, uncertainSortKey } from './run-items';
import { testFileSourceOf } from './source';
import type { QualityDeps, ScanSummary, ScanTestSuiteInput, StoredFile } from './types';

/** Files read at once. */
const FILE_READ_CONCURRENCY = 16;

/** The source's test files; a source that cannot be listed, or holds none, is bad input. */
async function listTestFiles(source: TestFileSource): Promise<string[]> {
  let paths: string[];
  try {
    paths = await source.list();
  } catch (err) {
    if (err instanceof TestFileError || (err as Error).name === 'NoSuchBucket')
      throw ApplicationFailure.nonRetryable(
        `Cannot list ${source.location}: ${(err as Error).message}`,
        'InvalidInput',
      );
    throw err;
  }
  if (paths.length === 0)
    throw ApplicationFailure.nonRetryable(
      `No test files under ${source.location} (*.test.ts, *.spec.js, test_*.py ...)`,
      'InvalidInput',
    );
  return paths;
}

/** Every file analyzed, in path order; an unreadable file is kept with its error. */
async function analyzeFiles(
  source: TestFileSource,
  paths: string[],
  options: QualityRuleOptions,
): Promise<FileAnalysis[]> {
  const analyses: FileAnalysis[] = new Array(paths.length);
  let next = 0;
  const reader = async () => {
    while (next < paths.length) {
      const i = next++;
      const rel = paths[i]!;
      try {
        analyses[i] = analyzeTestFile(rel, await source.read(rel), options);
      } catch (err) {
        if (!(err instanceof TestFileError) && (err as NodeJS.ErrnoException).code === undefined) throw err;
        analyses[i] = { path: rel, language: 'javascript', functions: [], error: (err as Error).message };
      }
      Context.current().heartbeat();
    }
  };
  await Promise.all(Array.from({ length: FILE_READ_CONCURRENCY }, reader));
  return analyses;
}

function storedFileOf(a: FileAnalysis): StoredFile {
  return {
    path: a.path,
    language: a.language,
    ...(a.error ? { error: a.error } : {}),
    functions: a.functions.map((f) => ({
      id: f.id,
      name: f.fullName,
      line: f.startLine,
      lines: f.endLine - f.startLine + 1,
      skipped: f.skipped,
      uncertain: f.uncertain,
      findings: f.findings,
    })),
  };
}

/** The functions left to the LLM: uncertain ones not settled by the runs this one redrives. */
function uncertainFunctionsOf(analyses: FileAnalysis[], settled: Set<string>): UncertainFunction[] {
  return analyses.flatMap((a) =>
    a.functions
      .filter((f) => f.uncertain && !settled.has(f.id))
      .map((f) => ({
        id: f.id,
        path: f.path,
        language: f.language,
        fullName: f.fullName,
        startLine: f.startLine,
        endLine: f.endLine,
        // Cut as the prompt cuts it: pages of these are workflow payloads.
        source: truncateSource(f.source),
        signals: f.signals,
      })),
  );
}

function scanSummaryOf(analyses: FileAnalysis[], uncertain: number): ScanSummary {
  return {
    files: analyses.length,
    functions: analyses.reduce((n, a) => n + a.functions.length, 0),
    uncertain,
    ruleIssues: analyses.reduce((n, a) => n + a.functions.reduce((m, f) => m + f.findings.length, 0), 0),
    unreadable: analyses.filter((a) => a.error).length,
  };
}

export function createScanActivities({ receipts, runs, s3, s3Bucket }: QualityDeps) {
  return {
    /**
     * Reads every test file, finds its test functions, applies the rules; stores each file's
     * findings and the uncertain functions (read back in pages by the workflow). Idempotent: a
     * retry rewrites the same items.
     */
    async scanTestSuite(input: ScanTestSuiteInput): Promise<ScanSummary> {
      const source = testFileSourceOf(input, s3, s3Bucket);
      const settled = input.redriveOf
        ? await succeededAlongRedrives(runs, (await redrivableRun(runs, input.redriveOf, 'analyze')).runId)
        : new Set<string>();
      const paths = await listTestFiles(source);
      const analyses = await analyzeFiles(source, paths, { ...DEFAULT_QUALITY_RULES, ...input.rules });
      const pk = runPartition(input.runId);
      const uncertain = uncertainFunctionsOf(analyses, settled);
      await receipts.batchPut([
        ...analyses.map((a) => ({
          PK: pk,
          SK: fileSortKey(a.path),
          type: 'QUALITY_FILE',
          ...storedFileOf(a),
        })),
        ...uncertain.map((fn, i) => ({ PK: pk, SK: uncertainSortKey(i), type: 'QUALITY_UNCERTAIN', ...fn })),
      ]);
      if (input.redriveOf) await runs.linkRedrive(input.redriveOf, input.runId);
      return scanSummaryOf(analyses, uncertain.length);
    },
  };
}
