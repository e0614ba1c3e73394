// The harmonizer's root workflow: one run over (label type x merchant) groups, each a child
// workflow (harmonize-group.ts), in a bounded window; continues as new every so many groups, and
// ends with the run report.
import { continueAsNew, executeChild, setHandler, workflowInfo } from '@temporalio/workflow';
import type { HarmonizeReport } from '../../activities/harmonize';
import {
  MerchantKey,
  PipelineKey,
  RunIdKey,
  errorMessage,
  windowThisRun,
  rootRun,
  markRunRunning,
  markRunCompleted,
} from '../shared';
import { RunBreaker } from '../run-breaker';
import { checkHarmonizeLabelsInput } from '../root-inputs';
import { harmonizeGroup } from './harmonize-group';
import { harmonizeProgressQuery, wordsPlannedSignal, type HarmonizeProgress } from './progress';
import { io, reportIo } from './proxies';
import { applyHarmonizeDefaults, type HarmonizeLabelsInput, type HarmonizeSettings } from './settings';

interface RootState {
  startedAt: number;
  nextGroup: number;
  progress: HarmonizeProgress;
  failedBatches: number;
  merchantGroupsDone: Record<string, number>;
}

interface GroupKey {
  merchantId: string;
  label: string;
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
  const st: RootState = state ?? newRootState();
  watchProgress(st);
  markRunRunning(s.runId, 'harmonize');
  const { groups, merchants } = await planRun(input, s, state ? undefined : st.startedAt);
  const groupsOf: Record<string, number> = {};
  for (const g of groups) groupsOf[g.merchantId] = (groupsOf[g.merchantId] ?? 0) + 1;
  st.progress.groupsTotal = groups.length;
  st.progress.merchantsTotal = merchants;

  // A group stopped by the provider breaker stops the run: the other groups are cancelled.
  const breaker = new RunBreaker();
  const fanOut = { width: s.widths.groups, quota: s.continueAsNewAfterGroups, breaker };
  st.nextGroup = await windowThisRun(groups, st.nextGroup, fanOut, async (group) => {
    await runGroup(s, st, group, breaker);
    st.progress.groupsDone++;
    st.merchantGroupsDone[group.merchantId] = (st.merchantGroupsDone[group.merchantId] ?? 0) + 1;
    if (st.merchantGroupsDone[group.merchantId] === groupsOf[group.merchantId]) st.progress.merchantsDone++;
  });
  if (st.nextGroup < groups.length) await continueAsNew<typeof harmonizeLabels>(input, st);

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

function newRootState(): RootState {
  return {
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
}

/** The progress query, and the groups' word counts added to it as they announce them. */
function watchProgress(st: RootState): void {
  // A group announces itself once (not again when it continues as new), so the set need not
  // outlive this run of the root.
  const planned = new Set<string>();
  setHandler(harmonizeProgressQuery, () => st.progress);
  setHandler(wordsPlannedSignal, ({ group, count }) => {
    if (planned.has(group)) return;
    planned.add(group);
    st.progress.total += count;
  });
}

/**
 * The run's input validated, the run started (first run only), and its groups: merchant-major, so
 * a merchant's groups run together and its results complete early. A redrive runs the groups of
 * its plan (those that did not complete), stored under its run id.
 */
async function planRun(
  input: HarmonizeLabelsInput,
  s: HarmonizeSettings,
  /** Set on the first run of the root only (not after continue-as-new). */
  firstRunStartedAt: number | undefined,
): Promise<{ groups: GroupKey[]; merchants: number }> {
  const { labelTypes } = await io.validateHarmonizeInput({
    labelTypes: input.labelTypes,
    rules: s.rules,
    batchSize: s.batchSize,
  });
  const firstRun = firstRunStartedAt !== undefined;
  if (firstRun)
    await io.startRun({
      runId: s.runId,
      pipeline: 'harmonize',
      params: { ...input },
      startedAt: firstRunStartedAt,
    });
  if (firstRun && input.redriveOf)
    await io.planRedrive({ runId: s.runId, redriveOf: input.redriveOf, pipeline: 'harmonize' });
  const merchantIds = await io.listMerchantIds({ merchantIds: input.merchantIds });
  const groups = input.redriveOf
    ? (await io.listRedrivePlan({ runId: s.runId })).map(({ group, id }) => ({
        merchantId: group,
        label: id,
      }))
    : merchantIds.flatMap((merchantId) => labelTypes.map((label) => ({ merchantId, label })));
  return { groups, merchants: merchantIds.length };
}

/** One group as a child workflow; a group that fails as a whole is recorded, not fatal. */
async function runGroup(
  s: HarmonizeSettings,
  st: RootState,
  { merchantId, label }: GroupKey,
  breaker: RunBreaker,
) {
  const rootWorkflowId = workflowInfo().workflowId;
  try {
    const r = await executeChild(harmonizeGroup, {
      workflowId: `${rootWorkflowId}/${merchantId}/${label}`,
      args: [{ settings: s, merchantId, label, rootWorkflowId }],
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
}
