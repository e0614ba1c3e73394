// An analysis run's input, and its settings with every default applied once.
import type { ScanSummary } from '../../activities/analyze';
import type { QualityRuleOptions } from '../../domain/quality';
import type { RunProgress } from '../shared';
import { LLM_QUEUE, type RunPriority } from '../shared';

export interface AnalyzeTestSuiteInput {
  /** Defaults to the workflow id. */
  runId?: string;
  /** A folder of test files, read by the pipeline worker. */
  path?: string;
  /** Or a prefix in the S3 bucket. */
  s3Prefix?: string;
  s3Bucket?: string;
  rules?: Partial<QualityRuleOptions>;
  /** Uncertain functions read from DynamoDB per page (each page's calls are queued at once). @default 100 */
  pageSize?: number;
  /** Continue as new after this many pages, or when Temporal suggests it (tests set it low). @default 50 */
  continueAsNewAfterPages?: number;
  /** Bypass the LLM cache for this run. @default false */
  noCache?: boolean;
  /** @default 'normal' */
  priority?: RunPriority;
  /** Task queue of the LLM activities. @default 'llm' */
  llmTaskQueue?: string;
  /** Redrive this ended run: only its uncertain functions not analyzed there (`npm run cli -- redrive`). */
  redriveOf?: string;
  /** Set when continuing as new. */
  resume?: AnalyzeResume;
}

/** Where a run that continued as new goes on from. */
export interface AnalyzeResume {
  next: number;
  startedAt: number;
  scan: ScanSummary;
  progress: RunProgress;
}

export type AnalyzeSettings = Required<
  Pick<
    AnalyzeTestSuiteInput,
    'runId' | 'pageSize' | 'continueAsNewAfterPages' | 'noCache' | 'priority' | 'llmTaskQueue'
  >
>;

export function applyQualityDefaults(input: AnalyzeTestSuiteInput, workflowId: string): AnalyzeSettings {
  return {
    runId: input.runId ?? workflowId,
    pageSize: Math.min(Math.max(1, input.pageSize ?? 100), 200),
    continueAsNewAfterPages: input.continueAsNewAfterPages ?? 50,
    noCache: input.noCache ?? false,
    priority: input.priority ?? 'normal',
    llmTaskQueue: input.llmTaskQueue ?? LLM_QUEUE,
  };
}
