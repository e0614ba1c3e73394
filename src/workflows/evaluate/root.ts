// The evaluation's root workflow: one run of the label evaluation over the selected merchants,
// evaluateLabels -> evaluateMerchant -> evaluateBatch -> evaluateReceipt. Fan-out widths bound
// orchestration; the LLM pressure is bounded only by the `llm` queue's global cap.
import { condition, continueAsNew, executeChild, patched, workflowInfo } from '@temporalio/workflow';
import type { EvaluationReport } from '../../activities/evaluate/types';
import {
  MerchantKey,
  PipelineKey,
  RunIdKey,
  errorMessage,
  markRunCompleted,
  markRunRunning,
  rootRun,
  slidingWindow,
} from '../shared';
import { RunBreaker } from '../run-breaker';
import { reviewInBatchMode } from '../batch-mode/evaluate';
import { checkEvaluateLabelsInput } from '../root-inputs';
import { evaluateMerchant } from './merchant';
import { RootProgress, type CarriedProgress } from './progress';
import { io } from './proxies';
import {
  applyEvaluationDefaults,
  DEFAULT_CONTINUE_AS_NEW_AFTER_MERCHANTS,
  DEFAULT_WIDTHS,
  LEGACY_WIDTHS,
  WIDER_FAN_OUT_PATCH,
  type EvaluateLabelsInput,
  type Settings,
} from './settings';

/** The root's history stays bounded: it continues as new, carrying progress (patch id). */
export const ROOT_CONTINUES_AS_NEW_PATCH = 'evaluate-root-continues-as-new';

/** What a root that continued as new carries to its next run. */
export interface RootCarry {
  /** The last merchant started (every merchant up to it has ended). */
  afterMerchant: string;
  progress: CarriedProgress;
  startedAt: number;
}

/** The root's input: the caller's, plus what the root carries when it continues as new. */
export type EvaluateLabelsRunInput = EvaluateLabelsInput & {
  /** Set by the root itself when it continues as new; callers leave it unset. */
  continued?: RootCarry;
};

/** Root workflow: one run of the label evaluation over the selected merchants. */
export async function evaluateLabels(input: EvaluateLabelsRunInput = {}): Promise<EvaluationReport> {
  const runId = input?.runId ?? workflowInfo().workflowId;
  return rootRun({
    runId,
    workflowType: 'evaluateLabels',
    failRun: io.failRun,
    checkInput: () => checkEvaluateLabelsInput(input),
    body: () =>
      input.continued !== undefined || patched(ROOT_CONTINUES_AS_NEW_PATCH)
        ? boundedRootRun(input)
        : unboundedRootRun(input),
  });
}

/** Starts one merchant child and waits for it; a merchant that fails as a whole is recorded. */
async function runMerchant(s: Settings, merchantId: string, redrive: boolean, breaker: RunBreaker) {
  const rootWorkflowId = workflowInfo().workflowId;
  try {
    await executeChild(evaluateMerchant, {
      workflowId: `${rootWorkflowId}/${merchantId}`,
      args: [{ settings: s, merchantId, rootWorkflowId, ...(redrive ? { redrive } : {}) }],
      typedSearchAttributes: [
        { key: RunIdKey, value: s.runId },
        { key: PipelineKey, value: 'evaluate' },
        { key: MerchantKey, value: merchantId },
      ],
      memo: { runId: s.runId, merchantId },
    });
  } catch (err) {
    if (breaker.trip(err)) return;
    // A merchant that fails as a whole (e.g. its receipts cannot be listed) is recorded, not fatal.
    await io.recordItemFailure({
      runId: s.runId,
      itemId: `merchant:${merchantId}`,
      reason: errorMessage(err),
      merchantId,
    });
  }
}

/** Records the run and lists its merchants (a redrive plans its receipts first, stored, not in history). */
async function startEvaluationRun(input: EvaluateLabelsInput, s: Settings, startedAt: number) {
  await io.startRun({ runId: s.runId, pipeline: 'evaluate', params: { ...input }, startedAt });
  if (input.redriveOf)
    await io.planRedrive({ runId: s.runId, redriveOf: input.redriveOf, pipeline: 'evaluate' });
}

/** Builds the report once the last progress signals have landed. */
async function finishEvaluationRun(s: Settings, progress: RootProgress, startedAt: number) {
  await condition(() => progress.settled(), '5 seconds');
  const report = await io.buildEvaluationReport({
    runId: s.runId,
    status: 'COMPLETED',
    makespanMs: Date.now() - startedAt,
    ...(s.mode ? { mode: s.mode } : {}),
  });
  markRunCompleted();
  return report;
}

/**
 * The root as it is now: merchants report coalesced progress, and the root continues as new after
 * `continueAsNewAfterMerchants` merchants or when Temporal suggests it (once the merchants it started
 * have ended), carrying the progress and a merchant cursor instead of lists.
 */
async function boundedRootRun(input: EvaluateLabelsRunInput): Promise<EvaluationReport> {
  const widths = patched(WIDER_FAN_OUT_PATCH) ? DEFAULT_WIDTHS : LEGACY_WIDTHS;
  const s = applyEvaluationDefaults(input, workflowInfo().workflowId, widths);
  const carry = input.continued;
  const startedAt = carry?.startedAt ?? Date.now(); // workflow time: deterministic
  const progress = new RootProgress(carry?.progress);
  progress.listen();
  const redrive = input.redriveOf !== undefined;
  if (!carry) {
    markRunRunning(s.runId, 'evaluate');
    await startEvaluationRun(input, s, startedAt);
    if (s.mode === 'batch') await reviewInBatchMode(input, s);
  }
  const merchantIds = await io.listMerchantIds({
    merchantIds: input.merchantIds,
    ...(redrive ? { redriveRunId: s.runId } : {}),
    ...(carry ? { after: carry.afterMerchant } : {}),
  });
  if (!carry) progress.merchantsTotal = merchantIds.length;

  let startedHere = 0;
  const limit = s.continueAsNewAfterMerchants ?? DEFAULT_CONTINUE_AS_NEW_AFTER_MERCHANTS;
  // workflowInfo() anew: the SDK replaces the info object on each activation.
  const stop = () => startedHere > 0 && (startedHere >= limit || workflowInfo().continueAsNewSuggested);
  const breaker = new RunBreaker();
  const next = await breaker.run(() =>
    slidingWindow(
      merchantIds,
      s.widths.merchants,
      async (merchantId) => {
        startedHere++;
        await runMerchant(s, merchantId, redrive, breaker);
        progress.merchantEnded();
      },
      () => breaker.open || stop(),
    ),
  );
  if (next < merchantIds.length) {
    const continued: RootCarry = {
      afterMerchant: merchantIds[next - 1]!,
      progress: progress.snapshot(),
      startedAt,
    };
    await continueAsNew<typeof evaluateLabels>({ ...input, continued });
  }
  return finishEvaluationRun(s, progress, startedAt);
}

/** The root of runs started before the patch: one progress signal per batch, never continues as new. */
async function unboundedRootRun(input: EvaluateLabelsInput = {}): Promise<EvaluationReport> {
  const s = applyEvaluationDefaults(input, workflowInfo().workflowId);
  const startedAt = Date.now(); // workflow time: deterministic
  const progress = new RootProgress();
  progress.listen();
  markRunRunning(s.runId, 'evaluate');
  await startEvaluationRun(input, s, startedAt);
  const redrive = input.redriveOf !== undefined;
  const merchantIds = await io.listMerchantIds({
    merchantIds: input.merchantIds,
    ...(redrive ? { redriveRunId: s.runId } : {}),
  });
  progress.merchantsTotal = merchantIds.length;

  // A merchant stopped by the provider breaker stops the run: the others are cancelled.
  const breaker = new RunBreaker();
  await breaker.run(() =>
    slidingWindow(
      merchantIds,
      s.widths.merchants,
      async (merchantId) => {
        await runMerchant(s, merchantId, redrive, breaker);
        progress.merchantEnded();
      },
      () => breaker.open,
    ),
  );
  return finishEvaluationRun(s, progress, startedAt);
}
