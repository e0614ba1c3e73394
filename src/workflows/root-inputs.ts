// The input check of each root workflow (input-validation.ts does the checking): every field a
// caller may set, with its allowed range. The ranges match the CLI's flags where both exist.
import type { EmbedBackfillInput } from './embed';
import type { EnrichPlacesInput } from './enrich';
import type { EvaluateLabelsRunInput } from './evaluate/root';
import type { HarmonizeLabelsInput } from './harmonize';
import { InputCheck } from './input-validation';
import type { AnalyzeTestSuiteInput } from './analyze';

const PRIORITIES = ['interactive', 'normal', 'backfill'] as const;
const MAX_WIDTH = 1_000;
const MAX_CONTINUE_AFTER = 1_000_000;

/**
 * The run id (given, or the workflow id) names the run's records: checked before anything is
 * recorded under it, so a bad one fails the workflow without writing anything.
 */
export function checkRunId(runId: string, workflowType: string): void {
  new InputCheck().id('runId', runId).throwIfInvalid(workflowType);
}

/** The fields of an input that may not even be an object (a caller outside TypeScript). */
function fieldsOf<T extends object>(input: T | undefined): Partial<T> {
  return typeof input === 'object' && input !== null && !Array.isArray(input) ? input : {};
}

/** Checks shared by every root: the object itself, priority, task queue, cache flag, redrive link. */
function commonChecks(input: unknown, known: readonly string[]): InputCheck {
  const check = new InputCheck();
  const i = check.object('input', input ?? {}, [
    ...known,
    'runId',
    'priority',
    'llmTaskQueue',
    'noCache',
    'redriveOf',
  ]);
  check
    .id('redriveOf', i.redriveOf)
    .oneOf('priority', i.priority, PRIORITIES)
    .text('llmTaskQueue', i.llmTaskQueue, 200)
    .bool('noCache', i.noCache);
  if (i.llmTaskQueue === '') check.problems.push('llmTaskQueue must not be empty');
  return check;
}

export function checkEvaluateLabelsInput(rawInput: EvaluateLabelsRunInput): void {
  const input = fieldsOf(rawInput);
  const check = commonChecks(input, [
    'merchantIds',
    'batchSize',
    'skipLlmReview',
    'revalidate',
    'widths',
    'reviewChunkSize',
    'continueAsNewAfterBatches',
    'continueAsNewAfterMerchants',
    'progressEveryMs',
    'applySuggestedLabels',
    'continued',
    'mode',
  ]);
  const widths = check.object('widths', input.widths, ['merchants', 'batches', 'receipts']);
  // Set by the root itself when it continues as new.
  const continued = check.object('continued', input.continued, ['afterMerchant', 'progress', 'startedAt']);
  check
    .ids('merchantIds', input.merchantIds)
    .int('batchSize', input.batchSize, 1, 1_000)
    .bool('skipLlmReview', input.skipLlmReview)
    .bool('revalidate', input.revalidate)
    .bool('applySuggestedLabels', input.applySuggestedLabels)
    .oneOf('mode', input.mode, ['realtime', 'batch'])
    .int('widths.merchants', widths.merchants, 1, MAX_WIDTH)
    .int('widths.batches', widths.batches, 1, MAX_WIDTH)
    .int('widths.receipts', widths.receipts, 1, MAX_WIDTH)
    .int('reviewChunkSize', input.reviewChunkSize, 1, 200)
    .int('continueAsNewAfterBatches', input.continueAsNewAfterBatches, 1, MAX_CONTINUE_AFTER)
    .int('continueAsNewAfterMerchants', input.continueAsNewAfterMerchants, 1, MAX_CONTINUE_AFTER)
    .int('progressEveryMs', input.progressEveryMs, 0, 24 * 3_600_000)
    .id('continued.afterMerchant', continued.afterMerchant)
    .object('continued.progress', continued.progress);
  check.int('continued.startedAt', continued.startedAt, 0).throwIfInvalid('evaluateLabels');
}

export function checkEnrichPlacesInput(rawInput: EnrichPlacesInput): void {
  const input = fieldsOf(rawInput);
  commonChecks(input, [
    'placeIds',
    'batchSize',
    'batchesInFlight',
    'continueAsNewAfterBatches',
    'resume',
    'mode',
  ])
    .oneOf('mode', input.mode, ['realtime', 'batch'])
    .ids('placeIds', input.placeIds, 1_000_000)
    .int('batchSize', input.batchSize, 1, 100)
    .int('batchesInFlight', input.batchesInFlight, 1, MAX_WIDTH)
    .int('continueAsNewAfterBatches', input.continueAsNewAfterBatches, 1, MAX_CONTINUE_AFTER)
    .throwIfInvalid('enrichPlaces');
}

export function checkAnalyzeTestSuiteInput(rawInput: AnalyzeTestSuiteInput): void {
  const input = fieldsOf(rawInput);
  const check = commonChecks(input, [
    'path',
    's3Prefix',
    's3Bucket',
    'rules',
    'pageSize',
    'continueAsNewAfterPages',
    'resume',
  ]);
  if (input.path === undefined && input.s3Prefix === undefined)
    check.problems.push(
      'path or s3Prefix must be given (a folder of test files, or a prefix in the S3 bucket)',
    );
  const rules = check.object('rules', input.rules, ['tooLongLines', 'borderlineLines', 'manyMocks']);
  check
    .text('path', input.path)
    .keyPrefix('s3Prefix', input.s3Prefix)
    .text('s3Bucket', input.s3Bucket, 63)
    .int('rules.tooLongLines', rules.tooLongLines, 1, 100_000)
    .int('rules.borderlineLines', rules.borderlineLines, 1, 100_000)
    .int('rules.manyMocks', rules.manyMocks, 1, 10_000)
    .int('pageSize', input.pageSize, 1, 200)
    .int('continueAsNewAfterPages', input.continueAsNewAfterPages, 1, MAX_CONTINUE_AFTER)
    .throwIfInvalid('analyzeTestSuite');
}

export function checkHarmonizeLabelsInput(rawInput: HarmonizeLabelsInput): void {
  const input = fieldsOf(rawInput);
  const check = commonChecks(input, [
    'labelTypes',
    'merchantIds',
    'batchSize',
    'rules',
    'embedBatchSize',
    'neighbourChunkSize',
    'exactNeighboursMax',
    'widths',
    'continueAsNewAfterBatches',
    'continueAsNewAfterGroups',
  ]);
  // The skip rules' own bounds are checked by validateHarmonizeInput (domain/harmonization.ts).
  check.object('rules', input.rules);
  const widths = check.object('widths', input.widths, ['groups', 'embedBatches', 'decideBatches']);
  check
    .ids('labelTypes', input.labelTypes, 100)
    .ids('merchantIds', input.merchantIds)
    .int('batchSize', input.batchSize, 1, 200)
    .int('embedBatchSize', input.embedBatchSize, 1, 2_048)
    .int('neighbourChunkSize', input.neighbourChunkSize, 1, 100_000)
    .int('exactNeighboursMax', input.exactNeighboursMax, 0, 1_000_000)
    .int('widths.groups', widths.groups, 1, MAX_WIDTH)
    .int('widths.embedBatches', widths.embedBatches, 1, MAX_WIDTH)
    .int('widths.decideBatches', widths.decideBatches, 1, MAX_WIDTH)
    .int('continueAsNewAfterBatches', input.continueAsNewAfterBatches, 1, MAX_CONTINUE_AFTER)
    .int('continueAsNewAfterGroups', input.continueAsNewAfterGroups, 1, MAX_CONTINUE_AFTER)
    .throwIfInvalid('harmonizeLabels');
}

/** Embedding settings a run may override, with the bounds config.ts puts on their variables. */
const EMBED_SETTING_INTS: Record<string, [number, number]> = {
  maxRequestsPerBatch: [1, 50_000],
  maxBytesPerBatch: [1, 209_715_200],
  pollInitialMs: [10, Number.MAX_SAFE_INTEGER],
  pollMaxMs: [10, Number.MAX_SAFE_INTEGER],
  pollsPerRun: [1, 100_000],
  pollGiveUpMs: [1_000, Number.MAX_SAFE_INTEGER],
  maxAttempts: [1, 20],
  maxRounds: [1, 50],
  reconcileMs: [100, Number.MAX_SAFE_INTEGER],
  compactChunkSize: [1, 5_000],
  deltaPartRecords: [1, 50_000],
  compactIdleMs: [0, Number.MAX_SAFE_INTEGER],
  compactRoundsPerRun: [1, 100_000],
  heartbeatTimeoutMs: [1_000, Number.MAX_SAFE_INTEGER],
  waitsPerRun: [1, 100_000],
};
const EMBED_SETTING_OTHERS = ['model', 'pollBackoff', 'compactorId', 'snapshot', 'deleteAppliedDeltas'];

export function checkEmbedBackfillInput(rawInput: EmbedBackfillInput): void {
  const input = fieldsOf(rawInput);
  const check = commonChecks(input, ['kinds', 'waitForBatches', 'settings', 'carry']);
  const settings = check.object('settings', input.settings, [
    ...Object.keys(EMBED_SETTING_INTS),
    ...EMBED_SETTING_OTHERS,
  ]);
  for (const [key, [min, max]] of Object.entries(EMBED_SETTING_INTS))
    check.int(`settings.${key}`, settings[key], min, max);
  if (input.kinds !== undefined && !Array.isArray(input.kinds))
    check.problems.push('kinds must be a list of LINE and/or WORD');
  for (const [i, kind] of (Array.isArray(input.kinds) ? input.kinds : []).entries())
    check.oneOf(`kinds[${i}]`, kind, ['LINE', 'WORD']);
  check
    .bool('waitForBatches', input.waitForBatches)
    .text('settings.model', settings.model, 200)
    .number('settings.pollBackoff', settings.pollBackoff, 1, 10)
    .id('settings.compactorId', settings.compactorId)
    .bool('settings.snapshot', settings.snapshot)
    .bool('settings.deleteAppliedDeltas', settings.deleteAppliedDeltas)
    .throwIfInvalid('embedBackfill');
}
