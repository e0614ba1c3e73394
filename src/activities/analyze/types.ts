// What the test-suite analysis activities take, store and report.
import type { S3Client } from '@aws-sdk/client-s3';
import type {
  QualityFinding,
  QualityRuleOptions,
  TestLanguage,
  UncertainFunction,
} from '../../domain/quality';
import type { RunReportBase } from '../shared/run-report';
import type { ReceiptStore } from '../../stores/receipts';
import type { RunStore } from '../../stores/runs';

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
export interface StoredFile {
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

export interface QualityReport extends RunReportBase<'analyze'> {
  /** Test functions found; `failed` are those left UNANALYZED, `succeeded` all the others. */
  total: number;
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
  /** LLM verdicts against the fixture's truth (hasIssue agreement), when known. */
  llmAgreement?: { agreement: number; judged: number };
}

/** An uncertain function as its verdict or failure is recorded. */
export type FunctionRef = Pick<UncertainFunction, 'id' | 'path' | 'fullName' | 'startLine'>;

/** What a function's RESULT item carries in `detail`. */
export interface FunctionResultDetail {
  path: string;
  name: string;
  line: number;
  hasIssue?: boolean;
  issues?: QualityFinding[];
}

export interface AnalyzeTestFunctionInput {
  runId: string;
  fn: UncertainFunction;
  noCache?: boolean;
}
