// One merchant of an evaluation run: its receipts in batches of `batchSize`, `widths.batches`
// batches at a time, continuing as new every `continueAsNewAfterBatches` batches.
import {
  continueAsNew,
  executeChild,
  getExternalWorkflowHandle,
  patched,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import { chunk } from '../../domain/chunk';
import {
  MerchantKey,
  PipelineKey,
  RunIdKey,
  pagedWindowThisRun,
  progressQuery,
  windowThisRun,
} from '../shared';
import { RunBreaker } from '../run-breaker';
import { evaluateBatch } from './batch';
import { MerchantReporter, receiptsDoneSignal, receiptsPlannedSignal, type MerchantTotals } from './progress';
import { io } from './proxies';
import type { Settings } from './settings';

/** A merchant resumes after the last receipt id done, not at a batch index (patch id). */
export const MERCHANT_CURSOR_PATCH = 'evaluate-merchant-receipt-cursor';

/** Where a merchant that continued as new resumes. */
export interface MerchantCursor {
  /** The last receipt id started, in list (id) order; every receipt up to it has ended. */
  afterReceipt?: string;
  /** Batches started so far (numbers the batch workflow ids). */
  batchesStarted: number;
  totals: MerchantTotals;
}

export interface EvaluateMerchantInput {
  settings: Settings;
  merchantId: string;
  rootWorkflowId: string;
  /** Part of a redrive: the receipts come from the run's plan. */
  redrive?: boolean;
  /** Set when continuing as new (runs started before the cursor patch: a batch index). */
  nextBatch?: number;
  totals?: { done: number; failed: number };
  /** Set when continuing as new. */
  cursor?: MerchantCursor;
}

/** One merchant: its receipts in batches of `batchSize`, `widths.batches` batches at a time. */
export async function evaluateMerchant(
  input: EvaluateMerchantInput,
): Promise<{ done: number; failed: number }> {
  // A merchant continued by older code (a batch index) finishes the old way.
  if (input.nextBatch === undefined && (input.cursor !== undefined || patched(MERCHANT_CURSOR_PATCH)))
    return evaluateMerchantByCursor(input);
  return evaluateMerchantByBatchIndex(input);
}

/** Receipts per page listed: enough for twice the window of batches, no more than this run starts. */
function pageLimit(s: Settings, batchesListed: number): number {
  const batches = Math.min(Math.max(2 * s.widths.batches, 1), s.continueAsNewAfterBatches - batchesListed);
  return Math.max(batches, 0) * s.batchSize;
}

function batchChildOptions(s: Settings, merchantId: string, batchNumber: number, receiptIds: string[]) {
  return {
    workflowId: `${workflowInfo().workflowId}/b${String(batchNumber).padStart(5, '0')}`,
    args: [{ settings: s, merchantId, receiptIds }] as [Parameters<typeof evaluateBatch>[0]],
    typedSearchAttributes: [
      { key: RunIdKey, value: s.runId },
      { key: PipelineKey, value: 'evaluate' },
      { key: MerchantKey, value: merchantId },
    ],
  };
}

/**
 * Lists the receipts page by page after a cursor (the last receipt id started), so a receipt deleted
 * mid-run shifts nothing, and continues as new carrying that cursor, never the list.
 */
async function evaluateMerchantByCursor(
  input: EvaluateMerchantInput,
): Promise<{ done: number; failed: number }> {
  const { settings: s, merchantId } = input;
  const c = input.cursor;
  const redriveRunId = input.redrive ? s.runId : undefined;
  const totals: MerchantTotals = c ? { ...c.totals } : { merchantId, total: 0, done: 0, failed: 0 };
  const reporter = new MerchantReporter(input.rootWorkflowId, s, totals);
  setHandler(progressQuery, () => ({ ...totals, merchantsDone: 0, merchantsTotal: 1 }));

  let after = c?.afterReceipt;
  let batchesListed = 0;
  let batchNumber = c?.batchesStarted ?? 0;
  let lastStarted = after;
  let capped = false; // this run listed all it may start: the rest is for the next run
  const nextPage = async (): Promise<string[][] | undefined> => {
    const limit = pageLimit(s, batchesListed);
    if (limit === 0) {
      capped = true;
      return undefined;
    }
    const page = await io.listReceiptIdPage({
      merchantId,
      ...(redriveRunId ? { redriveRunId } : {}),
      ...(after !== undefined ? { after } : {}),
      limit,
      withTotal: !c && batchesListed === 0,
    });
    if (page.total !== undefined) {
      totals.total = page.total;
      reporter.send(); // the root learns what this merchant plans
    }
    after = page.receiptIds.at(-1) ?? after;
    const batches = chunk(page.receiptIds, s.batchSize);
    batchesListed += batches.length;
    return batches;
  };

  const breaker = new RunBreaker();
  const fanOut = { width: s.widths.batches, quota: s.continueAsNewAfterBatches, breaker };
  const { drained } = await pagedWindowThisRun(nextPage, fanOut, async (receiptIds) => {
    lastStarted = receiptIds.at(-1);
    let r;
    try {
      r = await executeChild(evaluateBatch, batchChildOptions(s, merchantId, batchNumber++, receiptIds));
    } catch (err) {
      if (breaker.trip(err)) return;
      throw err;
    }
    reporter.batchEnded(r);
  });
  await reporter.flush();
  if (!drained || capped) {
    // History stays small however many receipts a merchant has; the next run lists after the cursor.
    const cursor: MerchantCursor = {
      batchesStarted: batchNumber,
      totals,
      ...(lastStarted ? { afterReceipt: lastStarted } : {}),
    };
    await continueAsNew<typeof evaluateMerchant>({ ...input, cursor });
  }
  return { done: totals.done, failed: totals.failed };
}

/** Merchants of runs started before the cursor patch: the whole list, resumed by batch index. */
async function evaluateMerchantByBatchIndex(
  input: EvaluateMerchantInput,
): Promise<{ done: number; failed: number }> {
  const { settings: s, merchantId } = input;
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
  setHandler(progressQuery, () => ({ total, ...totals, merchantsDone: 0, merchantsTotal: 1 }));

  const breaker = new RunBreaker();
  const fanOut = { width: s.widths.batches, quota: s.continueAsNewAfterBatches, breaker };
  const next = await windowThisRun(batches, first, fanOut, async (receiptBatch, index) => {
    let r;
    try {
      r = await executeChild(evaluateBatch, batchChildOptions(s, merchantId, index, receiptBatch));
    } catch (err) {
      if (breaker.trip(err)) return;
      throw err;
    }
    totals.done += r.done;
    totals.failed += r.failed;
    await signalRoot(root.signal(receiptsDoneSignal, r));
  });
  await Promise.all(pendingSignals);
  if (next < batches.length) {
    await continueAsNew<typeof evaluateMerchant>({ ...input, nextBatch: next, totals });
  }
  return totals;
}
