// Label harmonization (seed 001) as child workflows: harmonizeLabels -> harmonizeGroup per
// (merchant, label type). A group: prepare -> embed what Chroma lacks -> neighbours + skip rules ->
// plan (decision cache, batches of unique words) -> outlier decisions on the `llm` queue -> save.
// Word lists and vectors move through S3; history carries counts, so it stays small.
import {
  continueAsNew,
  defineQuery,
  defineSignal,
  executeChild,
  getExternalWorkflowHandle,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import type {
  FailedBatch,
  GroupSummary,
  HarmonizeReport,
  PlanSummary,
  PreparedGroup,
} from '../activities/harmonization';
import {
  DEFAULT_DECISION_BATCH_SIZE,
  DEFAULT_EMBED_BATCH_SIZE,
  DEFAULT_EXACT_NEIGHBOURS_MAX,
  DEFAULT_NEIGHBOUR_CHUNK_SIZE,
  applySkipRuleDefaults,
  type SkipRules,
} from '../domain/harmonization';
import {
  LLM_QUEUE,
  MerchantKey,
  PipelineKey,
  RunIdKey,
  errorMessage,
  ioLocalActivityOptions,
  llmActivityOptions,
  slidingWindow,
  type RunPriority,
  rootRun,
  markRunRunning,
  markRunCompleted,
  HARMONIZE_FAILURES,
} from './shared';
import { RunBreaker } from './run-breaker';
import { checkHarmonizeLabelsInput } from './root-inputs';

const io = proxyLocalActivities<Activities>(ioLocalActivityOptions);

const groupRetry = {
  initialInterval: '1 second',
  backoffCoefficient: 2,
  maximumInterval: '30 seconds',
  maximumAttempts: 10,
  nonRetryableErrorTypes: [...HARMONIZE_FAILURES],
};

/**
 * A group's I/O steps (DynamoDB, Chroma, S3 files): local activities on the pipeline worker, like
 * the evaluation's. Consecutive steps then run in one workflow task, without a task-queue round
 * trip each (measured: ~0.3 s per step on the dev server, most of a small group's time). A longer
 * timeout than the evaluation's, for groups of thousands of words.
 */
const groupIo = proxyLocalActivities<Activities>({
  startToCloseTimeout: '10 minutes',
  localRetryThreshold: '10 seconds',
  retry: groupRetry,
});

/** The run report reads every result of the run: a regular activity, heartbeating. */
const reportIo = proxyActivities<Activities>({
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: '30 seconds',
  retry: groupRetry,
});

export interface HarmonizeWidths {
  /** (merchant, label) groups at once. @default 16 */
  groups: number;
  /** Embedding batches of one group at once. @default 4 */
  embedBatches: number;
  /** Outlier-decision batches of one group at once (the `llm` queue's cap still holds). @default 8 */
  decideBatches: number;
}

export interface HarmonizeLabelsInput {
  /** Defaults to the workflow id. */
  runId?: string;
  /** Only these label types (default: all). */
  labelTypes?: string[];
  /** Only these merchants (default: all). */
  merchantIds?: string[];
  /** Words per outlier-decision LLM call. @default 10 */
  batchSize?: number;
  /** Similarity threshold and neighbour counts of the skip rules (domain/harmonization.ts). */
  rules?: Partial<SkipRules>;
  /** Do not read the decision cache nor the LLM cache (fresh answers still refresh both). @default false */
  noCache?: boolean;
  /** Texts per embedding call. @default 256 */
  embedBatchSize?: number;
  /** Words per neighbour-lookup activity (groups above `exactNeighboursMax`). @default 500 */
  neighbourChunkSize?: number;
  /** Groups up to this many words get exact neighbours; larger ones Chroma's index. @default 5000 */
  exactNeighboursMax?: number;
  widths?: Partial<HarmonizeWidths>;
  /** Continue-as-new a group after this many batch activities (tests set it low). @default 400 */
  continueAsNewAfterBatches?: number;
  /** Continue-as-new the root after this many groups. @default 500 */
  continueAsNewAfterGroups?: number;
  /** Priority of this run's LLM calls against other runs. @default 'normal' */
  priority?: RunPriority;
  /** Task queue of the LLM activities. @default 'llm' */
  llmTaskQueue?: string;
  /** Redrive this ended run: only its groups that did not complete (`npm run cli -- redrive`). */
  redriveOf?: string;
}

export type HarmonizeSettings = Required<
  Omit<HarmonizeLabelsInput, 'labelTypes' | 'merchantIds' | 'rules' | 'widths' | 'redriveOf'>
> & { rules: SkipRules; widths: HarmonizeWidths };

export function applyHarmonizeDefaults(input: HarmonizeLabelsInput, workflowId: string): HarmonizeSettings {
  return {
    runId: input.runId ?? workflowId,
    batchSize: input.batchSize ?? DEFAULT_DECISION_BATCH_SIZE,
    rules: applySkipRuleDefaults(input.rules),
    noCache: input.noCache ?? false,
    embedBatchSize: input.embedBatchSize ?? DEFAULT_EMBED_BATCH_SIZE,
    neighbourChunkSize: input.neighbourChunkSize ?? DEFAULT_NEIGHBOUR_CHUNK_SIZE,
    exactNeighboursMax: input.exactNeighboursMax ?? DEFAULT_EXACT_NEIGHBOURS_MAX,
    widths: { groups: 16, embedBatches: 4, decideBatches: 8, ...input.widths },
    continueAsNewAfterBatches: input.continueAsNewAfterBatches ?? 400,
    continueAsNewAfterGroups: input.continueAsNewAfterGroups ?? 500,
    priority: input.priority ?? 'normal',
    llmTaskQueue: input.llmTaskQueue ?? LLM_QUEUE,
  };
}

/** Progress of a harmonizer run: `total`/`done`/`failed` count words (the CLI's bar). */
export interface HarmonizeProgress {
  total: number;
  done: number;
  failed: number;
  groupsDone: number;
  groupsTotal: number;
  /** Kept for the shared progress shape: merchants all of whose groups are done. */
  merchantsDone: number;
  merchantsTotal: number;
}

export const harmonizeProgressQuery = defineQuery<HarmonizeProgress>('progress');
/** Sent by a group to the root once it knows how many words it has. */
export const wordsPlannedSignal = defineSignal<[{ group: string; count: number }]>('wordsPlanned');

interface RootState {
  startedAt: number;
  nextGroup: number;
  progress: HarmonizeProgress;
  failedBatches: number;
  merchantGroupsDone: Record<string, number>;
}

/** Root workflow: one harmonizer run over (label type x merchant) groups, in a bounded window. */
export async function harmonizeLabels(
  input: HarmonizeLabelsInput = {},
  state?: RootState,
): Promise<HarmonizeReport> {
  const runId = input?.runId ?? workflowInfo().workflowId;
  return rootRun({
    runId,
    workflowType: 'harmonizeLabels',
    failRun: io.failRun,
    checkInput: () => checkHarmonizeLabelsInput(input),
    body: () => harmonizeLabelsRun(input, state),
  });
}

async function harmonizeLabelsRun(
  input: HarmonizeLabelsInput = {},
  state?: RootState,
): Promise<HarmonizeReport> {
  const info = workflowInfo();
  const s = applyHarmonizeDefaults(input, info.workflowId);
  const st: RootState = state ?? {
    startedAt: Date.now(), // workflow time: deterministic
    nextGroup: 0,
    progress: {
      total: 0,
      done: 0,
      failed: 0,
      groupsDone: 0,
      groupsTotal: 0,
      merchantsDone: 0,
      merchantsTotal: 0,
    },
    failedBatches: 0,
    merchantGroupsDone: {},
  };
  // A group announces itself once (not again when it continues as new), so the set need not
  // outlive this run of the root.
  const planned = new Set<string>();
  setHandler(harmonizeProgressQuery, () => st.progress);
  setHandler(wordsPlannedSignal, ({ group, count }) => {
    if (planned.has(group)) return;
    planned.add(group);
    st.progress.total += count;
  });
  markRunRunning(s.runId, 'harmonize');

  const { labelTypes } = await io.validateHarmonizeInput({
    labelTypes: input.labelTypes,
    rules: s.rules,
    batchSize: s.batchSize,
  });
  if (!state)
    await io.startRun({
      runId: s.runId,
      pipeline: 'harmonize',
      params: { ...input },
      startedAt: st.startedAt,
    });
  if (!state && input.redriveOf)
    await io.planRedrive({ runId: s.runId, redriveOf: input.redriveOf, pipeline: 'harmonize' });
  const merchantIds = await io.listMerchantIds({ merchantIds: input.merchantIds });
  // Merchant-major: a merchant's groups run together, so its results complete early. A redrive
  // runs the groups of its plan (those that did not complete), stored under its run id.
  const groups = input.redriveOf
    ? (await io.listRedrivePlan({ runId: s.runId })).map(({ group, id }) => ({
        merchantId: group,
        label: id,
      }))
    : merchantIds.flatMap((merchantId) => labelTypes.map((label) => ({ merchantId, label })));
  const groupsOf: Record<string, number> = {};
  for (const g of groups) groupsOf[g.merchantId] = (groupsOf[g.merchantId] ?? 0) + 1;
  st.progress.groupsTotal = groups.length;
  st.progress.merchantsTotal = merchantIds.length;

  let started = 0;
  const stop = () => started >= s.continueAsNewAfterGroups || workflowInfo().continueAsNewSuggested;
  // A group stopped by the provider breaker stops the run: the other groups are cancelled.
  const breaker = new RunBreaker();
  const next = await breaker.run(() =>
    slidingWindow(
      groups.slice(st.nextGroup),
      s.widths.groups,
      async ({ merchantId, label }) => {
        started++;
        try {
          const r = await executeChild(harmonizeGroup, {
            workflowId: `${info.workflowId}/${merchantId}/${label}`,
            args: [{ settings: s, merchantId, label, rootWorkflowId: info.workflowId }],
            typedSearchAttributes: [
              { key: RunIdKey, value: s.runId },
              { key: PipelineKey, value: 'harmonize' },
              { key: MerchantKey, value: merchantId },
            ],
            memo: { runId: s.runId, merchantId, label },
          });
          st.progress.done += r.succeeded;
          st.progress.failed += r.failed;
          st.failedBatches += r.failedBatches;
        } catch (err) {
          if (breaker.trip(err)) return;
          // A group that fails as a whole (e.g. its words cannot be listed) is recorded, not fatal.
          st.progress.failed++;
          await io.recordItemFailure({
            runId: s.runId,
            itemId: `group:${merchantId}/${label}`,
            reason: errorMessage(err),
            merchantId,
          });
        }
        st.progress.groupsDone++;
        st.merchantGroupsDone[merchantId] = (st.merchantGroupsDone[merchantId] ?? 0) + 1;
        if (st.merchantGroupsDone[merchantId] === groupsOf[merchantId]) st.progress.merchantsDone++;
      },
      () => breaker.open || stop(),
    ),
  );
  st.nextGroup += next;
  if (st.nextGroup < groups.length) {
    await continueAsNew<typeof harmonizeLabels>(input, st);
  }

  const report = await reportIo.buildHarmonizeReport({
    runId: s.runId,
    status: 'COMPLETED',
    makespanMs: Date.now() - st.startedAt,
    groups: groups.length,
    failedBatches: st.failedBatches,
  });
  markRunCompleted();
  return report;
}

export interface HarmonizeGroupInput {
  settings: HarmonizeSettings;
  merchantId: string;
  label: string;
  rootWorkflowId: string;
  /** Set when continuing as new. */
  state?: GroupState;
}

interface GroupState {
  prepared: PreparedGroup;
  phase: 'embed' | 'decide';
  /** Index of the first batch of the phase not yet started. */
  next: number;
  plan?: PlanSummary;
  failedEmbedBatches: FailedBatch[];
  failedBatches: FailedBatch[];
}

/** One (merchant, label type) group. Never throws for one bad batch: failures are recorded per word. */
export async function harmonizeGroup(input: HarmonizeGroupInput): Promise<GroupSummary> {
  const { settings: s, merchantId, label } = input;
  const ref = { runId: s.runId, merchantId, label };
  const llmOptions = llmActivityOptions(merchantId, s.priority, s.llmTaskQueue);
  // A stable activity id per batch: LLM call records (keyed by activity id) stay unique across
  // continue-as-new, where Temporal's own activity ids start again from 1.
  const llm = (activityId: string) => proxyActivities<Activities>({ ...llmOptions, activityId });
  let st: GroupState;
  if (input.state) st = input.state;
  else {
    const prepared = await groupIo.prepareHarmonizeGroup({
      ...ref,
      embedBatchSize: s.embedBatchSize,
      neighbourChunkSize: s.neighbourChunkSize,
      exactNeighboursMax: s.exactNeighboursMax,
    });
    st = { prepared, phase: 'embed', next: 0, failedEmbedBatches: [], failedBatches: [] };
    if (prepared.words > 0)
      await getExternalWorkflowHandle(input.rootWorkflowId).signal(wordsPlannedSignal, {
        group: `${merchantId}/${label}`,
        count: prepared.words,
      });
  }
  const { prepared } = st;
  setHandler(harmonizeProgressQuery, () => ({
    total: prepared.words,
    done: 0,
    failed: 0,
    groupsDone: 0,
    groupsTotal: 1,
    merchantsDone: 0,
    merchantsTotal: 1,
  }));
  if (prepared.words === 0) return emptySummary(merchantId, label);

  let started = 0;
  // A batch refused for the provider's credentials fails the group (and the run), unsaved.
  const breaker = new RunBreaker();
  const stop = () =>
    breaker.open || started >= s.continueAsNewAfterBatches || workflowInfo().continueAsNewSuggested;
  if (st.phase === 'embed') {
    const pending = range(st.next, prepared.embedBatches);
    const done = await breaker.run(() =>
      slidingWindow(
        pending,
        s.widths.embedBatches,
        async (batchIndex) => {
          started++;
          try {
            await llm(`embed-${pad(batchIndex)}`).embedWords({
              ...ref,
              batchIndex,
              batchSize: s.embedBatchSize,
            });
            await groupIo.upsertWordEmbeddings({ ...ref, batchIndex });
          } catch (err) {
            if (breaker.trip(err)) return;
            // Words of a batch that cannot be embedded end as failed words; the others go on.
            st.failedEmbedBatches.push({ batchIndex, reason: errorMessage(err) });
          }
        },
        stop,
      ),
    );
    st.next += done;
    if (st.next < prepared.embedBatches) await continueAsNew<typeof harmonizeGroup>({ ...input, state: st });

    await slidingWindow(range(0, prepared.neighbourChunks), s.widths.embedBatches, async (chunkIndex) => {
      await groupIo.findWordNeighbours({
        ...ref,
        chunkIndex,
        chunkSize: s.neighbourChunkSize,
        exact: prepared.exactNeighbours,
        rules: s.rules,
      });
    });
    st.plan = await groupIo.planOutlierDecisions({
      ...ref,
      neighbourChunks: prepared.neighbourChunks,
      batchSize: s.batchSize,
      noCache: s.noCache,
    });
    st.phase = 'decide';
    st.next = 0;
  }

  const plan = st.plan!;
  const done = await breaker.run(() =>
    slidingWindow(
      range(st.next, plan.batches),
      s.widths.decideBatches,
      async (batchIndex) => {
        started++;
        try {
          await llm(`decide-${pad(batchIndex)}`).decideOutliers({ ...ref, batchIndex, noCache: s.noCache });
        } catch (err) {
          if (breaker.trip(err)) return;
          // An invalid answer after repairs, a 400/404, or retries exhausted: recorded for its words.
          st.failedBatches.push({ batchIndex, reason: errorMessage(err) });
        }
      },
      stop,
    ),
  );
  st.next += done;
  if (st.next < plan.batches) await continueAsNew<typeof harmonizeGroup>({ ...input, state: st });

  return groupIo.saveHarmonizeResults({
    ...ref,
    batches: plan.batches,
    failedBatches: st.failedBatches,
    failedEmbedBatches: st.failedEmbedBatches,
  });
}

function emptySummary(merchantId: string, label: string): GroupSummary {
  return {
    merchantId,
    label,
    words: 0,
    succeeded: 0,
    failed: 0,
    outliers: 0,
    consistent: 0,
    isolated: 0,
    cached: 0,
    llm: 0,
    shared: 0,
    batches: 0,
    failedBatches: 0,
    verdictsChanged: 0,
  };
}

function range(from: number, to: number): number[] {
  return Array.from({ length: Math.max(0, to - from) }, (_, i) => from + i);
}

function pad(n: number): string {
  return String(n).padStart(5, '0');
}
