// Label evaluation (seed 000) as child workflows: evaluateLabels -> evaluateMerchant ->
// evaluateBatch -> evaluateReceipt. Fan-out widths bound orchestration; the LLM pressure is bounded
// only by the `llm` queue's global cap, however deep the fan-out.
import {
  condition,
  continueAsNew,
  defineQuery,
  defineSignal,
  executeChild,
  getExternalWorkflowHandle,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { EvaluationReport, ReviewedWord } from '../activities/evaluation';
import { chunk } from '../domain/chunk';
import {
  LLM_QUEUE,
  MerchantKey,
  PipelineKey,
  RunIdKey,
  errorMessage,
  llmActivityOptions,
  ioLocalActivityOptions,
  slidingWindow,
  type RunPriority,
  rootRun,
  markRunRunning,
  markRunCompleted,
  isNonRetryable,
} from './shared';
import { RunBreaker } from './run-breaker';
import { checkEvaluateLabelsInput } from './root-inputs';

const io = proxyLocalActivities<Activities>(ioLocalActivityOptions);

export interface FanOutWidths {
  /** Merchants evaluated at once. @default 3 */
  merchants: number;
  /** Batches of one merchant at once. @default 10 */
  batches: number;
  /** Receipts of one batch at once. @default 5 */
  receipts: number;
}

export interface EvaluateLabelsInput {
  /** Defaults to the workflow id. */
  runId?: string;
  /** Only these merchants (default: all). */
  merchantIds?: string[];
  /** Receipts per batch child. @default 10 */
  batchSize?: number;
  /** Rules only, no LLM review (orchestration benchmark). @default false */
  skipLlmReview?: boolean;
  /** Bypass the LLM cache for this run. @default false */
  noCache?: boolean;
  /** Review again the labels an earlier LLM review already decided. @default false */
  revalidate?: boolean;
  widths?: Partial<FanOutWidths>;
  /** Issues per LLM call. @default 20 */
  reviewChunkSize?: number;
  /** Priority of this run's LLM calls against other runs. @default 'normal' */
  priority?: RunPriority;
  /** Continue-as-new a merchant workflow after this many batches (tests set it low). @default 500 */
  continueAsNewAfterBatches?: number;
  /** Task queue of the LLM activities. @default 'llm' */
  llmTaskQueue?: string;
  /** Redrive this ended run: only its receipts that did not succeed (`npm run cli -- redrive`). */
  redriveOf?: string;
}

export interface RunProgress {
  total: number;
  done: number;
  failed: number;
  merchantsDone: number;
  merchantsTotal: number;
}

type Settings = Required<Omit<EvaluateLabelsInput, 'merchantIds' | 'widths' | 'redriveOf'>> & {
  widths: FanOutWidths;
};

export function applyEvaluationDefaults(input: EvaluateLabelsInput, workflowId: string): Settings {
  return {
    runId: input.runId ?? workflowId,
    batchSize: input.batchSize ?? 10,
    skipLlmReview: input.skipLlmReview ?? false,
    noCache: input.noCache ?? false,
    revalidate: input.revalidate ?? false,
    widths: { merchants: 3, batches: 10, receipts: 5, ...input.widths },
    reviewChunkSize: input.reviewChunkSize ?? 20,
    priority: input.priority ?? 'normal',
    continueAsNewAfterBatches: input.continueAsNewAfterBatches ?? 500,
    llmTaskQueue: input.llmTaskQueue ?? LLM_QUEUE,
  };
}

export const progressQuery = defineQuery<RunProgress>('progress');
/** Sent by merchant workflows to the root: receipts planned, then done/failed per batch. */
export const receiptsPlannedSignal = defineSignal<[{ merchantId: string; count: number }]>('receiptsPlanned');
export const receiptsDoneSignal = defineSignal<[{ done: number; failed: number }]>('receiptsDone');

/** Root workflow: one run of the label evaluation over the selected merchants. */
export async function evaluateLabels(input: EvaluateLabelsInput = {}): Promise<EvaluationReport> {
  const runId = input?.runId ?? workflowInfo().workflowId;
  return rootRun({
    runId,
    workflowType: 'evaluateLabels',
    failRun: io.failRun,
    checkInput: () => checkEvaluateLabelsInput(input),
    body: () => evaluateLabelsRun(input),
  });
}

async function evaluateLabelsRun(input: EvaluateLabelsInput = {}): Promise<EvaluationReport> {
  const info = workflowInfo();
  const s = applyEvaluationDefaults(input, info.workflowId);
  const startedAt = Date.now(); // workflow time: deterministic
  const progress: RunProgress = { total: 0, done: 0, failed: 0, merchantsDone: 0, merchantsTotal: 0 };
  const planned = new Set<string>();
  setHandler(progressQuery, () => progress);
  setHandler(receiptsPlannedSignal, ({ merchantId, count }) => {
    if (planned.has(merchantId)) return; // a continued-as-new merchant re-announces itself
    planned.add(merchantId);
    progress.total += count;
  });
  setHandler(receiptsDoneSignal, ({ done, failed }) => {
    progress.done += done;
    progress.failed += failed;
  });
  markRunRunning(s.runId, 'evaluate');

  await io.startRun({ runId: s.runId, pipeline: 'evaluate', params: { ...input }, startedAt });
  // A redrive plans its receipts once (stored, not in history); its merchants list from the plan.
  const redrive = input.redriveOf !== undefined;
  if (input.redriveOf)
    await io.planRedrive({ runId: s.runId, redriveOf: input.redriveOf, pipeline: 'evaluate' });
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
        try {
          await executeChild(evaluateMerchant, {
            workflowId: `${info.workflowId}/${merchantId}`,
            args: [
              { settings: s, merchantId, rootWorkflowId: info.workflowId, ...(redrive ? { redrive } : {}) },
            ],
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
        progress.merchantsDone++;
      },
      () => breaker.open,
    ),
  );

  // Let the last receiptsDone signals land before the report is built.
  await condition(() => progress.done + progress.failed >= progress.total, '5 seconds');
  const report = await io.buildEvaluationReport({
    runId: s.runId,
    status: 'COMPLETED',
    makespanMs: Date.now() - startedAt,
  });
  markRunCompleted();
  return report;
}

export interface EvaluateMerchantInput {
  settings: Settings;
  merchantId: string;
  rootWorkflowId: string;
  /** Part of a redrive: the receipts come from the run's plan. */
  redrive?: boolean;
  /** Index of the first batch not yet started (set when continuing as new). */
  nextBatch?: number;
  totals?: { done: number; failed: number };
}

/** One merchant: its receipts in batches of `batchSize`, `widths.batches` batches at a time. */
export async function evaluateMerchant(
  input: EvaluateMerchantInput,
): Promise<{ done: number; failed: number }> {
  const { settings: s, merchantId } = input;
  const info = workflowInfo();
  const totals = input.totals ?? { done: 0, failed: 0 };
  const receiptIds = await io.listReceiptIds({
    merchantId,
    ...(input.redrive ? { redriveRunId: s.runId } : {}),
  });
  const batches = chunk(receiptIds, s.batchSize);
  const total = receiptIds.length;
  const root = getExternalWorkflowHandle(input.rootWorkflowId);
  // Progress signals to the root used to hold up the batches (one round trip each); now they are
  // sent alongside and awaited before this run ends. Histories from before keep replaying.
  const signalsAlongside = patched('progress-signals-alongside');
  const pendingSignals: Array<Promise<void>> = [];
  const signalRoot = async (sent: Promise<void>) => {
    if (!signalsAlongside) return sent;
    sent.catch(() => undefined); // handled: a failure surfaces from Promise.all below, not as unhandled
    pendingSignals.push(sent);
  };
  const first = input.nextBatch ?? 0;
  if (first === 0) await signalRoot(root.signal(receiptsPlannedSignal, { merchantId, count: total }));
  setHandler(progressQuery, () => ({
    total,
    done: totals.done,
    failed: totals.failed,
    merchantsDone: 0,
    merchantsTotal: 1,
  }));

  let started = 0;
  // workflowInfo() anew: the SDK replaces the info object on each activation, so `info` is stale.
  const stop = () => started >= s.continueAsNewAfterBatches || workflowInfo().continueAsNewSuggested;
  const remaining = batches.slice(first);
  const breaker = new RunBreaker();
  const nextIndex = await breaker.run(() =>
    slidingWindow(
      remaining,
      s.widths.batches,
      async (receiptBatch, i) => {
        started++;
        const batchIndex = first + i;
        let r;
        try {
          r = await executeChild(evaluateBatch, {
            workflowId: `${info.workflowId}/b${String(batchIndex).padStart(5, '0')}`,
            args: [{ settings: s, merchantId, receiptIds: receiptBatch }],
            typedSearchAttributes: [
              { key: RunIdKey, value: s.runId },
              { key: PipelineKey, value: 'evaluate' },
              { key: MerchantKey, value: merchantId },
            ],
          });
        } catch (err) {
          if (breaker.trip(err)) return;
          throw err;
        }
        totals.done += r.done;
        totals.failed += r.failed;
        await signalRoot(root.signal(receiptsDoneSignal, r));
      },
      () => breaker.open || stop(),
    ),
  );
  await Promise.all(pendingSignals);
  const next = first + nextIndex;
  if (next < batches.length) {
    // History stays small however many batches a merchant has.
    await continueAsNew<typeof evaluateMerchant>({ ...input, nextBatch: next, totals });
  }
  return totals;
}

export interface EvaluateBatchInput {
  settings: Settings;
  merchantId: string;
  receiptIds: string[];
}

/** One batch: `widths.receipts` receipt children at a time. Never throws for one bad receipt. */
export async function evaluateBatch(input: EvaluateBatchInput): Promise<{ done: number; failed: number }> {
  const { settings: s } = input;
  const info = workflowInfo();
  const out = { done: 0, failed: 0 };
  setHandler(progressQuery, () => ({
    total: input.receiptIds.length,
    ...out,
    merchantsDone: 0,
    merchantsTotal: 1,
  }));
  const breaker = new RunBreaker();
  await breaker.run(() =>
    slidingWindow(
      input.receiptIds,
      s.widths.receipts,
      async (receiptId) => {
        try {
          const r = await executeChild(evaluateReceipt, {
            workflowId: `${info.workflowId}/${receiptId}`,
            args: [{ settings: s, merchantId: input.merchantId, receiptId }],
          });
          if (r.status === 'SUCCEEDED') out.done++;
          else out.failed++;
        } catch (err) {
          if (breaker.trip(err)) return;
          out.failed++;
          await io.recordItemFailure({
            runId: s.runId,
            itemId: receiptId,
            reason: errorMessage(err),
            merchantId: input.merchantId,
          });
        }
      },
      () => breaker.open,
    ),
  );
  return out;
}

export interface EvaluateReceiptInput {
  settings: Settings;
  merchantId: string;
  receiptId: string;
}

export interface ReceiptOutcome {
  receiptId: string;
  status: 'SUCCEEDED' | 'FAILED';
  issues: number;
  reason?: string;
}

/** One receipt: fetch -> rules -> LLM review in chunks (parallel, globally capped) -> save. */
export async function evaluateReceipt(input: EvaluateReceiptInput): Promise<ReceiptOutcome> {
  const { settings: s, merchantId, receiptId } = input;
  let receipt;
  try {
    receipt = await io.fetchReceiptData({ receiptId });
  } catch (err) {
    const reason = errorMessage(err);
    if (isNonRetryable(err)) {
      await io.recordItemFailure({ runId: s.runId, itemId: receiptId, reason, merchantId });
      return { receiptId, status: 'FAILED', issues: 0, reason };
    }
    throw err;
  }
  const issues = await io.evaluateLabels({ receipt, revalidate: s.revalidate });
  const reviews: ReviewedWord[] = [];
  const failedChunks: Array<{ chunkIndex: number; reason: string }> = [];
  if (!s.skipLlmReview && issues.length > 0) {
    const llm = proxyActivities<Activities>(llmActivityOptions(merchantId, s.priority, s.llmTaskQueue));
    const chunks = chunk(issues, s.reviewChunkSize);
    // A chunk refused for the provider's credentials fails the receipt (and the run), unsaved.
    const breaker = new RunBreaker();
    await breaker.run(() =>
      Promise.all(
        chunks.map(async (issuesChunk, chunkIndex) => {
          try {
            reviews.push(
              ...(await llm.reviewLabelIssues({
                runId: s.runId,
                receiptId,
                merchantId,
                merchantName: receipt.merchantName,
                chunkIndex,
                issues: issuesChunk,
                noCache: s.noCache,
              })),
            );
          } catch (err) {
            if (breaker.trip(err)) return;
            // An invalid answer after repairs, a 400/404, or retries exhausted: recorded for this chunk.
            failedChunks.push({ chunkIndex, reason: errorMessage(err) });
          }
        }),
      ),
    );
  }
  reviews.sort((a, b) => (a.wordId < b.wordId ? -1 : a.wordId > b.wordId ? 1 : 0));
  await io.saveReviewResults({
    runId: s.runId,
    receiptId,
    merchantId,
    issues,
    reviews,
    failedChunks,
    skippedLlmReview: s.skipLlmReview,
  });
  return failedChunks.length
    ? {
        receiptId,
        status: 'FAILED',
        issues: issues.length,
        reason: failedChunks.map((c) => c.reason).join('; '),
      }
    : { receiptId, status: 'SUCCEEDED', issues: issues.length };
}
