// `harmonize`: its flags (thresholds default to the HARMONIZE_* settings) and its report lines.
import type { AppConfig } from '../config';
import type { HarmonizeReport } from '../activities/harmonize';
import { LABELS } from '../domain/llm-tasks';
import { DEFAULT_SKIP_RULES, skipRuleProblems, type SkipRules } from '../domain/harmonization';
import { resolveLabel } from '../domain/labels';
import { harmonizeLabels, type HarmonizeLabelsInput } from '../workflows/harmonize';
import {
  type ParsedArgs,
  UsageError,
  assertKnownFlags,
  boolFlag,
  flag,
  idListFlag,
  listFlag,
  numberFlag,
} from './args';
import type { PipelineRunSpec } from './pipelines';

const PRIORITIES = ['interactive', 'normal', 'backfill'] as const;

/**
 * `harmonize [--label-types L,...] [--merchants M,...] [--batch-size N] [--similarity x]
 * [--consistent-neighbours N] [--isolated-similarity x] [--no-cache] [--priority P] [--wait] [--json]`
 */
export function harmonizeSpec(cfg: AppConfig, args: ParsedArgs): PipelineRunSpec {
  assertKnownFlags(args, [
    'label-types',
    'merchants',
    'merchant',
    'batch-size',
    'similarity',
    'consistent-neighbours',
    'isolated-similarity',
    'isolated-min-consistent-share',
    'no-cache',
    'priority',
    'wait',
    'json',
    'run-id',
  ]);
  if (args.positional.length)
    throw new UsageError(`harmonize takes no arguments, got "${args.positional.join(' ')}"`);
  const priority = flag(args, 'priority');
  if (priority !== undefined && !(PRIORITIES as readonly string[]).includes(priority))
    throw new UsageError(`--priority must be interactive, normal or backfill, got "${priority}"`);
  // Aliases map to their core label (`--label-types BUSINESS_NAME` is MERCHANT_NAME).
  const labelTypes = listFlag(args, 'label-types')?.map((l) => {
    const r = resolveLabel(l);
    return r.kind === 'label' ? r.label : l.toUpperCase();
  });
  const unknown = (labelTypes ?? []).filter((l) => !(LABELS as readonly string[]).includes(l));
  if (unknown.length)
    throw new UsageError(`unknown label types: ${unknown.join(', ')} (known: ${LABELS.join(', ')})`);
  const merchants = [
    ...(idListFlag(args, 'merchants', 'merchant id') ?? []),
    ...(idListFlag(args, 'merchant', 'merchant id') ?? []),
  ];
  const rules: SkipRules = {
    similarity: numberFlag(args, 'similarity', { min: 0, max: 1 }) ?? cfg.HARMONIZE_SIMILARITY,
    consistentNeighbours:
      numberFlag(args, 'consistent-neighbours', { min: 1, int: true }) ?? cfg.HARMONIZE_CONSISTENT_NEIGHBOURS,
    isolatedSimilarity:
      numberFlag(args, 'isolated-similarity', { min: 0, max: 1 }) ?? cfg.HARMONIZE_ISOLATED_SIMILARITY,
    isolatedMinConsistentShare:
      numberFlag(args, 'isolated-min-consistent-share', { min: 0, max: 1 }) ??
      DEFAULT_SKIP_RULES.isolatedMinConsistentShare,
  };
  const problems = skipRuleProblems(rules);
  if (problems.length) throw new UsageError(problems.join('; '));
  const input: HarmonizeLabelsInput = {
    ...(labelTypes?.length ? { labelTypes } : {}),
    ...(merchants.length ? { merchantIds: merchants } : {}),
    batchSize: numberFlag(args, 'batch-size', { min: 1, max: 100, int: true }) ?? cfg.HARMONIZE_BATCH_SIZE,
    rules,
    embedBatchSize: cfg.HARMONIZE_EMBED_BATCH_SIZE,
    noCache: boolFlag(args, 'no-cache'),
    ...(priority ? { priority: priority as HarmonizeLabelsInput['priority'] } : {}),
  };
  return { pipeline: 'harmonize', workflow: harmonizeLabels, input };
}

/** Report lines of a harmonizer run (none for other reports). */
export function harmonizeReportLines(report: Record<string, unknown>): string[] {
  if (report.pipeline !== 'harmonize' || !report.skipped) return [];
  const h = report as unknown as HarmonizeReport;
  return [
    `  words: ${h.words} in ${h.groups} (label, merchant) groups; outliers: ${h.outliers}`,
    `  decided without an LLM call: ${h.skipped.consistentByNeighbours} consistent (similar neighbours), ${h.skipped.outlierNoNeighbours} outliers (no neighbour), ${h.skipped.cached} from the decision cache, ${h.skipped.sameTextInRun} same word in this run`,
    `  LLM: ${h.llmDecided} words in ${h.llmCalls.outlierDecisions} decision calls (${h.callsPer1000Words} per 1,000 words; one per word would be 1,000), ${h.llmCalls.embeddings} embedding calls`,
  ];
}
