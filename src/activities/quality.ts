// Test-suite quality analysis (seed 002): the pipeline-queue activities (read and parse the files,
// run the rules, store what is uncertain, save verdicts, build the per-file report) and the one
// `llm`-queue activity, `analyzeTestFunction`: one combined prompt per uncertain function.
import type { S3Client } from '@aws-sdk/client-s3';
import { ApplicationFailure, Context } from '@temporalio/activity';
import { answerJsonSchema, type TestQualityAnswer } from '../domain/llm-tasks';
import {
  DEFAULT_QUALITY_RULES,
  analyzeTestFile,
  testQualityMessages,
  testQualitySchemaFor,
  truncateSource,
  type FileAnalysis,
  type QualityFinding,
  type QualityRuleOptions,
  type TestLanguage,
  type UncertainFunction,
} from '../domain/quality';
import { summarizeCalls } from '../llm/accounting';
import { toActivityFailure } from '../llm/errors';
import type { LlmClient } from '../llm/llm-client';
import type { ReceiptStore } from '../stores/receipts';
import { runPartition, type RunStore } from '../stores/runs';
import { TestFileError, localTestFiles, s3TestFiles, type TestFileSource } from '../stores/test-files';
import { readTruth } from '../stores/truth';
import { llmCallIds } from './llm-call-ids';
import { redrivableRun, succeededAlongRedrives } from './redrive';

export interface QualityDeps {
  receipts: ReceiptStore;
  runs: RunStore;
  truthFile: string;
  /** For `s3Prefix` runs; without it such a run fails with a clear, non-retried error. */
  s3?: S3Client;
  s3Bucket?: string;
}

export interface ScanTestSuiteInput {
  runId: string;
  /** A local folder, read by the pipeline worker. */
  path?: string;
  /** Or a prefix in the S3 bucket (S3_BUCKET unless `s3Bucket`). */
  s3Prefix?: string;
  s3Bucket?: string;
  rules?: Partial<QualityRuleOptions>;
  /** A redrive: functions that succeeded in this run (or the runs it redrives) are not uncertain again. */
  redriveOf?: string;
}

export interface ScanSummary {
  files: number;
  functions: number;
  uncertain: number;
  ruleIssues: number;
  unreadable: number;
}

/** A file as stored for the report: the rules' findings per function. */
interface StoredFile {
  path: string;
  language: TestLanguage;
  error?: string;
  functions: Array<{
    id: string;
    name: string;
    line: number;
    lines: number;
    skipped: boolean;
    uncertain: boolean;
    findings: QualityFinding[];
  }>;
}

export interface QualityIssue {
  function: string;
  line: number;
  kind: QualityFinding['kind'];
  message: string;
  by: 'rules' | 'llm';
}

export interface QualityFileReport {
  path: string;
  language: TestLanguage;
  functions: number;
  uncertain: number;
  issues: QualityIssue[];
  unanalyzed: string[];
  error?: string;
}

export interface QualityReport {
  runId: string;
  pipeline: 'analyze';
  status: string;
  /** Test functions found; `failed` are those left UNANALYZED, `succeeded` all the others. */
  total: number;
  succeeded: number;
  failed: number;
  files: number;
  uncertain: number;
  analyzedByLlm: number;
  unanalyzed: Array<{ functionId: string; path: string; name: string; reason: string }>;
  issuesByKind: Record<string, number>;
  issuesByRules: number;
  issuesByLlm: number;
  perFile: QualityFileReport[];
  /** Set when per-file detail was cut to keep the stored report small. */
  perFileTruncated?: boolean;
  failures: Array<{ itemId: string; reason: string }>;
  /** LLM verdicts against the fixture's truth (hasIssue agreement), when known. */
  llmAgreement?: { agreement: number; judged: number };
  llm: ReturnType<typeof summarizeCalls>;
  makespanMs: number;
}

const FILE_READ_CONCURRENCY = 16;
/** The stored report (run META item) stays well under DynamoDB's 400 KB item limit. */
const MAX_STORED_REPORT_CHARS = 300_000;

const uncertainKey = (i: number) => `UNCERTAIN#${String(i).padStart(6, '0')}`;

export function createQualityActivities({ receipts, runs, truthFile, s3, s3Bucket }: QualityDeps) {
  const sourceOf = (input: ScanTestSuiteInput): TestFileSource => {
    if (input.path && input.s3Prefix !== undefined)
      throw ApplicationFailure.nonRetryable('Give a folder or an S3 prefix, not both', 'InvalidInput');
    if (input.path) return localTestFiles(input.path);
    if (input.s3Prefix !== undefined) {
      const bucket = input.s3Bucket ?? s3Bucket;
      if (!s3 || !bucket)
        throw ApplicationFailure.nonRetryable('This worker has no S3 client configured', 'InvalidInput');
      return s3TestFiles(s3, bucket, input.s3Prefix);
    }
    throw ApplicationFailure.nonRetryable(
      'Nothing to analyze: give a folder or an S3 prefix',
      'InvalidInput',
    );
  };

  return {
    /**
     * Reads every test file, finds its test functions, applies the rules; stores each file's
     * findings and the uncertain functions (read back in pages by the workflow). Idempotent: a
     * retry rewrites the same items.
     */
    async scanTestSuite(input: ScanTestSuiteInput): Promise<ScanSummary> {
      const source = sourceOf(input);
      const settled = input.redriveOf
        ? await succeededAlongRedrives(runs, (await redrivableRun(runs, input.redriveOf, 'analyze')).runId)
        : new Set<string>();
      const options = { ...DEFAULT_QUALITY_RULES, ...input.rules };
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
      const analyses: FileAnalysis[] = new Array(paths.length);
      let next = 0;
      const reader = async () => {
        while (next < paths.length) {
          const i = next++;
          const rel = paths[i]!;
          try {
            analyses[i] = analyzeTestFile(rel, await source.read(rel), options);
          } catch (err) {
            if (!(err instanceof TestFileError) && (err as NodeJS.ErrnoException).code === undefined)
              throw err;
            analyses[i] = { path: rel, language: 'javascript', functions: [], error: (err as Error).message };
          }
          Context.current().heartbeat();
        }
      };
      await Promise.all(Array.from({ length: FILE_READ_CONCURRENCY }, reader));

      const pk = runPartition(input.runId);
      const files: Array<Record<string, unknown>> = analyses.map((a) => {
        const stored: StoredFile = {
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
        return { PK: pk, SK: `FILE#${a.path}`, type: 'QUALITY_FILE', ...stored };
      });
      const uncertain: UncertainFunction[] = analyses.flatMap((a) =>
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
      await receipts.batchPut([
        ...files,
        ...uncertain.map((fn, i) => ({ PK: pk, SK: uncertainKey(i), type: 'QUALITY_UNCERTAIN', ...fn })),
      ]);
      if (input.redriveOf) await runs.linkRedrive(input.redriveOf, input.runId);
      return {
        files: analyses.length,
        functions: analyses.reduce((n, a) => n + a.functions.length, 0),
        uncertain: uncertain.length,
        ruleIssues: analyses.reduce((n, a) => n + a.functions.reduce((m, f) => m + f.findings.length, 0), 0),
        unreadable: analyses.filter((a) => a.error).length,
      };
    },

    /** A page of the run's uncertain functions, in scan order. */
    async listUncertainFunctions(input: {
      runId: string;
      from: number;
      limit: number;
    }): Promise<UncertainFunction[]> {
      const items = await receipts.queryAll({
        KeyConditionExpression: 'PK = :pk AND SK BETWEEN :a AND :b',
        ExpressionAttributeValues: {
          ':pk': runPartition(input.runId),
          ':a': uncertainKey(input.from),
          ':b': uncertainKey(input.from + input.limit - 1),
        },
      });
      return items.map((i) => ({
        id: String(i.id),
        path: String(i.path),
        language: i.language as TestLanguage,
        fullName: String(i.fullName),
        startLine: Number(i.startLine),
        endLine: Number(i.endLine),
        source: String(i.source),
        signals: (i.signals as string[]) ?? [],
      }));
    },

    async saveFunctionVerdict(input: {
      runId: string;
      fn: Pick<UncertainFunction, 'id' | 'path' | 'fullName' | 'startLine'>;
      verdict: Omit<TestQualityAnswer, 'id'>;
    }) {
      await runs.putResult({
        runId: input.runId,
        itemId: input.fn.id,
        status: 'SUCCEEDED',
        detail: {
          path: input.fn.path,
          name: input.fn.fullName,
          line: input.fn.startLine,
          hasIssue: input.verdict.hasIssue,
          issues: input.verdict.issues,
        },
        attempt: 1,
        at: Date.now(),
      });
    },

    /** One failed LLM call: the function is UNANALYZED with the reason; the run goes on. */
    async recordFunctionUnanalyzed(input: {
      runId: string;
      fn: Pick<UncertainFunction, 'id' | 'path' | 'fullName' | 'startLine'>;
      reason: string;
    }) {
      await runs.putResult({
        runId: input.runId,
        itemId: input.fn.id,
        status: 'FAILED',
        reason: input.reason,
        detail: {
          path: input.fn.path,
          name: input.fn.fullName,
          line: input.fn.startLine,
          status: 'UNANALYZED',
        },
        attempt: 1,
        at: Date.now(),
      });
    },

    async buildQualityReport(input: {
      runId: string;
      status: string;
      makespanMs: number;
    }): Promise<QualityReport> {
      const [fileItems, results, calls, truth] = await Promise.all([
        receipts.queryPrefix(runPartition(input.runId), 'FILE#'),
        runs.listResults(input.runId),
        runs.listCalls(input.runId),
        readTruth(truthFile),
      ]);
      const files = fileItems as unknown as StoredFile[];
      type Detail = {
        path: string;
        name: string;
        line: number;
        hasIssue?: boolean;
        issues?: QualityFinding[];
      };
      const byPath = new Map<string, typeof results>();
      for (const r of results) {
        const p = (r.detail as Detail).path;
        byPath.set(p, [...(byPath.get(p) ?? []), r]);
      }
      const issuesByKind: Record<string, number> = {};
      let issuesByRules = 0;
      let issuesByLlm = 0;
      const perFile: QualityFileReport[] = files
        .sort((a, b) => (a.path < b.path ? -1 : 1))
        .map((f) => {
          const issues: QualityIssue[] = [];
          for (const fn of f.functions)
            for (const finding of fn.findings) {
              issues.push({ function: fn.name, line: fn.line, ...finding, by: 'rules' });
              issuesByRules++;
            }
          const unanalyzed: string[] = [];
          for (const r of byPath.get(f.path) ?? []) {
            const d = r.detail as Detail;
            if (r.status === 'FAILED') unanalyzed.push(d.name);
            for (const finding of d.issues ?? []) {
              issues.push({
                function: d.name,
                line: d.line,
                kind: finding.kind,
                message: finding.message,
                by: 'llm',
              });
              issuesByLlm++;
            }
          }
          for (const i of issues) issuesByKind[i.kind] = (issuesByKind[i.kind] ?? 0) + 1;
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
        });
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
          const d = r.detail as Detail;
          return { functionId: r.itemId, path: d.path, name: d.name, reason: r.reason ?? 'unknown' };
        }),
        issuesByKind,
        issuesByRules,
        issuesByLlm,
        perFile,
        failures: failed.slice(0, 20).map((r) => ({ itemId: r.itemId, reason: r.reason ?? 'unknown' })),
        llm: summarizeCalls(calls),
        makespanMs: input.makespanMs,
      };
      const known = truth?.functions ?? {};
      const judged = results.filter((r) => r.status === 'SUCCEEDED' && known[r.itemId]);
      if (judged.length) {
        const agree = judged.filter(
          (r) => (r.detail as Detail).hasIssue === known[r.itemId]!.hasIssue,
        ).length;
        report.llmAgreement = {
          agreement: Math.round((agree / judged.length) * 1000) / 1000,
          judged: judged.length,
        };
      }
      let stored: QualityReport = report;
      if (JSON.stringify(report).length > MAX_STORED_REPORT_CHARS) {
        // The whole detail stays in the run's FILE#/RESULT# items; the stored report keeps counts.
        stored = {
          ...report,
          perFile: report.perFile.map((f) => ({ ...f, issues: [], unanalyzed: f.unanalyzed.slice(0, 5) })),
          unanalyzed: report.unanalyzed.slice(0, 100),
          perFileTruncated: true,
        };
      }
      await runs.finishRun(
        input.runId,
        stored as unknown as Record<string, unknown>,
        input.status === 'COMPLETED' ? 'COMPLETED' : 'FAILED',
      );
      return stored;
    },
  };
}

export interface AnalyzeTestFunctionInput {
  runId: string;
  fn: UncertainFunction;
  noCache?: boolean;
}

export function createQualityLlmActivities({ llm }: { llm: LlmClient }) {
  return {
    /** One combined structured call per uncertain test function. */
    async analyzeTestFunction(input: AnalyzeTestFunctionInput): Promise<Omit<TestQualityAnswer, 'id'>> {
      const ctx = Context.current();
      try {
        const { value } = await llm.structured({
          runId: input.runId,
          ...llmCallIds(),
          task: 'test_quality',
          messages: testQualityMessages(input.fn),
          schema: testQualitySchemaFor(input.fn.id),
          jsonSchema: answerJsonSchema('test_quality'),
          noCache: input.noCache,
          fairnessKey: input.runId,
          signal: ctx.cancellationSignal,
          heartbeat: () => ctx.heartbeat(),
        });
        return { hasIssue: value.hasIssue, issues: value.issues };
      } catch (err) {
        throw toActivityFailure(err, ctx.info.attempt);
      }
    },
  };
}
