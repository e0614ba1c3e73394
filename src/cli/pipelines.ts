// `enrich` and `analyze`: their flags, how a run is started and waited on, and their report lines.
import path from 'node:path';
import type { AppConfig } from '../config';
import type { EnrichmentReport } from '../activities/enrich';
import type { QualityReport } from '../activities/analyze';
import { enrichPlaces, type EnrichPlacesInput } from '../workflows/enrich';
import { analyzeTestSuite, type AnalyzeTestSuiteInput } from '../workflows/analyze';
import type { Client } from '@temporalio/client';
import type { Workflow } from '@temporalio/common';
import { connectClient } from '../temporal';
import { type ParsedArgs, UsageError, assertKnownFlags, boolFlag, flag, listFlag, numberFlag } from './args';
import { startRun, waitForRun } from './runs';
import { modeInput } from './mode';

export interface PipelineRunSpec {
  pipeline: string;
  /** The root workflow function, started by reference (its name is the workflow type). */
  workflow: Workflow;
  input: object;
}

const PRIORITIES = ['interactive', 'normal', 'backfill'] as const;

function priorityOf(args: ParsedArgs): EnrichPlacesInput['priority'] {
  const p = flag(args, 'priority');
  if (p === undefined) return undefined;
  if (!(PRIORITIES as readonly string[]).includes(p))
    throw new UsageError(`--priority must be interactive, normal or backfill, got "${p}"`);
  return p as EnrichPlacesInput['priority'];
}

/** `enrich [--places p-0001,p-0002] [--batch-size N] [--no-cache] [--priority P] [--mode M] [--wait] [--json]` */
export function enrichSpec(args: ParsedArgs): PipelineRunSpec {
  assertKnownFlags(args, ['places', 'batch-size', 'no-cache', 'priority', 'wait', 'json', 'run-id', 'mode']);
  if (args.positional.length)
    throw new UsageError(`enrich takes no arguments, got "${args.positional.join(' ')}"`);
  const priority = priorityOf(args);
  const input: EnrichPlacesInput = {
    placeIds: listFlag(args, 'places'),
    batchSize: numberFlag(args, 'batch-size', { min: 1, max: 100, int: true }),
    noCache: boolFlag(args, 'no-cache'),
    ...(priority ? { priority } : {}),
    ...modeInput(args),
  };
  return { pipeline: 'enrich', workflow: enrichPlaces, input };
}

/** `analyze <folder | s3://bucket/prefix> [--no-cache] [--priority P] [--wait] [--json]` */
export function analyzeSpec(cfg: AppConfig, args: ParsedArgs): PipelineRunSpec {
  assertKnownFlags(args, ['no-cache', 'priority', 'wait', 'json', 'run-id']);
  const target = args.positional[0];
  if (!target || args.positional.length > 1)
    throw new UsageError('analyze needs one folder or s3://bucket/prefix: npm run cli -- analyze <path>');
  const priority = priorityOf(args);
  const common = { noCache: boolFlag(args, 'no-cache'), ...(priority ? { priority } : {}) };
  let input: AnalyzeTestSuiteInput;
  const s3 = /^s3:\/\/([^/]+)\/?(.*)$/.exec(target);
  if (s3) {
    if (s3[1] !== cfg.S3_BUCKET)
      throw new UsageError(`the workers read S3_BUCKET=${cfg.S3_BUCKET}; got bucket "${s3[1]}"`);
    input = { s3Prefix: s3[2] ?? '', s3Bucket: s3[1], ...common };
  } else {
    // The pipeline worker reads the folder: an absolute path means the same folder wherever it runs.
    input = { path: path.resolve(target), ...common };
  }
  return { pipeline: 'analyze', workflow: analyzeTestSuite, input };
}

/** Starts a run; with --wait shows progress and prints the report (JSON last with --json). */
export async function runPipelineCommand(
  cfg: AppConfig,
  args: ParsedArgs,
  spec: PipelineRunSpec,
  printReport: (report: Record<string, unknown>, json: boolean) => void,
): Promise<number> {
  const client = await connectClient(cfg);
  const runId = await startRun(cfg, client, {
    pipeline: spec.pipeline,
    workflow: spec.workflow,
    args: spec.input,
    runId: flag(args, 'run-id'),
  });
  return followRun(cfg, client, runId, args, printReport);
}

/** After a start: prints the run id, or with --wait shows progress and prints the report. */
export async function followRun(
  cfg: AppConfig,
  client: Client,
  runId: string,
  args: ParsedArgs,
  printReport: (report: Record<string, unknown>, json: boolean) => void,
): Promise<number> {
  const json = boolFlag(args, 'json');
  if (!boolFlag(args, 'wait')) {
    console.log(
      json ? JSON.stringify({ runId }) : `started ${runId}; follow it with: npm run cli -- report ${runId}`,
    );
    return 0;
  }
  console.error(
    `run ${runId} started; Temporal UI: http://127.0.0.1:${cfg.TEMPORAL_UI_PORT}/namespaces/${cfg.TEMPORAL_NAMESPACE}/workflows/${runId}`,
  );
  const report = await waitForRun<Record<string, unknown>>(client, runId);
  printReport(report, json);
  return 0;
}

/** Report lines specific to the enrichment and quality pipelines (none for other reports). */
export function pipelineReportLines(report: Record<string, unknown>): string[] {
  if (report.pipeline === 'enrich') {
    const r = report as unknown as EnrichmentReport;
    const lines = [
      `  places: ${r.placesEnriched} enriched, ${r.placesFailed} failed; ${r.llmCallsPerPlace} LLM calls and ${r.promptTokensPerPlace} prompt tokens per place`,
    ];
    if (r.accuracy)
      lines.push(
        `  vs truth: women-only hours ${r.accuracy.womenOnlyHours}, amenities ${r.accuracy.amenities} (${r.accuracy.judged} places)`,
      );
    return lines;
  }
  if (report.pipeline === 'analyze') {
    const r = report as unknown as QualityReport;
    const lines = [
      `  ${r.files} files, ${r.total} test functions, ${r.uncertain} uncertain -> ${r.analyzedByLlm} analyzed by the LLM, ${r.unanalyzed.length} unanalyzed`,
      `  issues: ${r.issuesByRules} by rules, ${r.issuesByLlm} by the LLM: ${Object.entries(r.issuesByKind)
        .sort((a, b) => b[1] - a[1])
        .map(([k, n]) => `${k} ${n}`)
        .join(', ')}`,
    ];
    for (const f of r.perFile.filter((x) => x.issues.length || x.unanalyzed.length || x.error).slice(0, 50)) {
      const kinds = new Map<string, number>();
      for (const i of f.issues) kinds.set(i.kind, (kinds.get(i.kind) ?? 0) + 1);
      lines.push(
        `    ${f.path}: ${[...kinds].map(([k, n]) => `${k} ${n}`).join(', ') || 'no issues'}` +
          (f.unanalyzed.length ? `; unanalyzed: ${f.unanalyzed.join(', ')}` : '') +
          (f.error ? `; ${f.error}` : ''),
      );
    }
    if (r.llmAgreement)
      lines.push(
        `  LLM verdicts vs truth: agreement ${r.llmAgreement.agreement} (${r.llmAgreement.judged} functions)`,
      );
    return lines;
  }
  return [];
}
