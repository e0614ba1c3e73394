// The product CLI: pipeline runs, reports, redrives. `npm run cli -- <command>` runs it through dev/cli.ts,
// which adds the development commands (the embedded stack, the emulator, seeding) in front of these.
import { type AppConfig, loadConfig } from './config';
import {
  type ParsedArgs,
  UsageError,
  assertKnownFlags,
  boolFlag,
  flag,
  idFlag,
  idListFlag,
  numberFlag,
  parseArgs,
  usableId,
} from './cli/args';
import { runCommandLine } from './cli/run-command-line';
import { runReport } from './cli/runs';
import { startRedrive } from './cli/redrive';
import { analyzeSpec, enrichSpec, followRun, pipelineReportLines, runPipelineCommand } from './cli/pipelines';
import { modeInput, modeReportLines } from './cli/mode';
import { embedCommand, embedReportLines } from './cli/embed';
import { harmonizeReportLines, harmonizeSpec } from './cli/harmonize';
import { connectClient } from './temporal';
import type { EvaluationReport } from './activities/evaluate';
import { evaluateLabels, type EvaluateLabelsInput } from './workflows/evaluate';

/** The product commands (dev/cli.ts lists its own above them). */
export const PRODUCT_COMMANDS_HELP = `  evaluate [--merchant M ...] [--batch-size N] [--skip-llm-review] [--revalidate] [--no-cache]
           [--keep-labels] [--priority interactive|normal|backfill] [--mode realtime|batch] [--wait] [--json]
           label evaluation run (a label reviewed INVALID is replaced by the reviewer's suggestion;
           --keep-labels: status only; --mode batch: prompts as OpenAI Batch API jobs at half price)
  report <runId> [--json]                       status and report of a run
  redrive <runId> [--run-id R] [--wait] [--json]   a new run over the items of an ended run that did not
                                                succeed (failed or never reached); evaluate, enrich, analyze, harmonize
  enrich [--places p-0001,...] [--batch-size N] [--no-cache] [--mode realtime|batch] [--wait] [--json]   place enrichment run
  analyze <folder | s3://bucket/prefix> [--no-cache] [--wait] [--json]   test-suite quality run
  embed [--kind lines|words|all] [--wait] [--json]   embed lines/words: Batch API -> S3 deltas -> Chroma
  embed status [--json]                         embedded/pending/failed counts, records in Chroma, compactor
  embed schedule [--every 1h] [--compact-every 15m] [--delete]   Temporal Schedules for backfill and compaction
  harmonize [--label-types L,...] [--merchants M,...] [--batch-size N] [--similarity x]
            [--consistent-neighbours N] [--isolated-similarity x] [--no-cache] [--wait] [--json]
                                                label harmonization run (outliers per label and merchant)
`;

const HELP = `Usage: npm run cli -- <command> [flags]\n\n${PRODUCT_COMMANDS_HELP}`;

const BOOLEAN_FLAGS = [
  'json',
  'wait',
  'fresh',
  'skip-llm-review',
  'revalidate',
  'no-cache',
  'keep-labels',
  'help',
  'delete',
];

/** Runs one product command; `help` is what `help` and an unknown command print. */
export async function main(argv: string[], help = HELP): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === 'help' || command === '--help') {
    process.stdout.write(help);
    return command ? 0 : 2;
  }
  const args = parseArgs(rest, BOOLEAN_FLAGS);
  // Refused before anything connects: a run id becomes a workflow id and DynamoDB/S3 keys.
  idFlag(args, 'run-id', 'run id');
  const cfg = loadConfig();
  switch (command) {
    case 'evaluate':
      return evaluateCommand(cfg, args);
    case 'report': {
      assertKnownFlags(args, ['json']);
      const runId = args.positional[0];
      if (!runId) throw new UsageError('report needs a run id: npm run cli -- report <runId>');
      usableId('run id', runId);
      const client = await connectClient(cfg);
      const report = await runReport(cfg, client, runId);
      printReport(report, boolFlag(args, 'json'));
      return 0;
    }
    case 'redrive': {
      assertKnownFlags(args, ['run-id', 'wait', 'json']);
      const [oldRunId, ...extra] = args.positional;
      if (!oldRunId || extra.length)
        throw new UsageError('redrive needs one run id: npm run cli -- redrive <runId> [--wait] [--json]');
      const client = await connectClient(cfg);
      const { runId } = await startRedrive(cfg, client, { oldRunId, runId: flag(args, 'run-id') });
      console.error(`redriving ${oldRunId} as ${runId}`);
      return followRun(cfg, client, runId, args, printReport);
    }
    case 'enrich':
      return runPipelineCommand(cfg, args, enrichSpec(args), printReport);
    case 'analyze':
      return runPipelineCommand(cfg, args, analyzeSpec(cfg, args), printReport);
    case 'embed':
      return embedCommand(cfg, args, printReport);
    case 'harmonize':
      return runPipelineCommand(cfg, args, harmonizeSpec(cfg, args), printReport);
    default:
      throw new UsageError(`unknown command "${command}"\n\n${help}`);
  }
}

async function evaluateCommand(cfg: AppConfig, args: ParsedArgs): Promise<number> {
  assertKnownFlags(args, [
    'merchant',
    'batch-size',
    'skip-llm-review',
    'revalidate',
    'no-cache',
    'keep-labels',
    'priority',
    'wait',
    'json',
    'run-id',
    'chunk-size',
    'mode',
  ]);
  const priority = flag(args, 'priority');
  if (priority && !['interactive', 'normal', 'backfill'].includes(priority)) {
    throw new UsageError(`--priority must be interactive, normal or backfill, got "${priority}"`);
  }
  const input: EvaluateLabelsInput = {
    merchantIds: idListFlag(args, 'merchant', 'merchant id'),
    batchSize: numberFlag(args, 'batch-size', { min: 1, max: 1000, int: true }),
    reviewChunkSize: numberFlag(args, 'chunk-size', { min: 1, max: 200, int: true }) ?? cfg.REVIEW_CHUNK_SIZE,
    skipLlmReview: boolFlag(args, 'skip-llm-review'),
    revalidate: boolFlag(args, 'revalidate'),
    noCache: boolFlag(args, 'no-cache'),
    ...(boolFlag(args, 'keep-labels') ? { applySuggestedLabels: false } : {}),
    ...(priority ? { priority: priority as EvaluateLabelsInput['priority'] } : {}),
    ...modeInput(args),
  };
  return runPipelineCommand(
    cfg,
    args,
    { pipeline: 'evaluate', workflow: evaluateLabels, input },
    printReport,
  );
}

export function printReport(report: Record<string, unknown>, json: boolean): void {
  console.log(formatReport(report));
  if (json) console.log(JSON.stringify(report));
}

/** A run report as a few readable lines. */
export function formatReport(report: Record<string, unknown>): string {
  const r = report as Partial<EvaluationReport> & Record<string, unknown>;
  const lines = [
    `run ${String(r.runId)}: ${String(r.status)}`,
    `  items: ${r.succeeded ?? 0} succeeded, ${r.failed ?? 0} failed of ${r.total ?? 0}`,
  ];
  if (r.issuesFound !== undefined)
    lines.push(`  issues found: ${r.issuesFound}; decisions: ${JSON.stringify(r.decisions)}`);
  if (r.scores)
    lines.push(
      `  scores vs truth: precision ${r.scores.precision}, recall ${r.scores.recall} (${r.scores.planted} planted)`,
    );
  if (r.llm) {
    const l = r.llm;
    lines.push(
      `  llm: ${l.calls} calls, ${l.rateLimited} rate-limited, ${l.cacheHits} cache hits, ${l.promptTokens}+${l.completionTokens} tokens, $${l.costUsd}`,
      `       latency p50/p95/p99 ${l.latencyMs.p50}/${l.latencyMs.p95}/${l.latencyMs.p99} ms`,
    );
    const q = l.providerQueuedMs;
    if (q)
      lines.push(
        `       waited in the provider's queue p50/p95/max ${q.p50}/${q.p95}/${q.max} ms (${q.calls} calls, as the provider reported)`,
      );
  }
  lines.push(...modeReportLines(report));
  lines.push(...pipelineReportLines(report));
  lines.push(...embedReportLines(report));
  lines.push(...harmonizeReportLines(report));
  if (typeof r.redriveOf === 'string') lines.push(`  redrive of ${r.redriveOf}`);
  if (Array.isArray(r.redrivenBy)) lines.push(`  redriven by ${r.redrivenBy.join(', ')}`);
  if (r.makespanMs !== undefined) lines.push(`  makespan: ${(r.makespanMs / 1000).toFixed(1)} s`);
  for (const f of r.failures ?? []) lines.push(`  failed ${f.itemId}: ${f.reason}`);
  return lines.join('\n');
}

if (require.main === module) runCommandLine(main);
