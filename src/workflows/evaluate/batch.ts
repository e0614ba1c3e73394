// One batch of an evaluation run: `widths.receipts` receipts at a time, each run inline in this
// workflow (a few activity events of its history), or as a child workflow in runs started before.
// Never throws for one bad receipt (it is recorded as failed).
import { executeChild, patched, setHandler, workflowInfo } from '@temporalio/workflow';
import { MerchantKey, PipelineKey, RunIdKey, errorMessage, progressQuery, slidingWindow } from '../shared';
import { RunBreaker } from '../run-breaker';
import { io, receiptSteps } from './proxies';
import { evaluateReceipt, type ReceiptOutcome } from './receipt';
import type { Settings } from './settings';

/** Receipt children carry the run's search attributes, as the others do (patch id). */
export const RECEIPT_SEARCH_ATTRIBUTES_PATCH = 'receipt-search-attributes';

/**
 * Receipts run inline in their batch, not as child workflows (patch id): a child cost the Temporal
 * server a whole workflow per receipt (start, tasks, close, visibility), most of the orchestration's CPU.
 */
export const RECEIPTS_INLINE_PATCH = 'evaluate-receipts-inline';

export interface EvaluateBatchInput {
  settings: Settings;
  merchantId: string;
  receiptIds: string[];
}

type RunReceipt = (receiptId: string) => Promise<ReceiptOutcome>;

/** Runs started before the inline patch: one `evaluateReceipt` child per receipt. */
function receiptAsChild(s: Settings, merchantId: string): RunReceipt {
  const batchWorkflowId = workflowInfo().workflowId;
  // The Web UI's PipelineRunId filter then shows every receipt of a run, not only its batches.
  const searchAttributes = patched(RECEIPT_SEARCH_ATTRIBUTES_PATCH)
    ? {
        typedSearchAttributes: [
          { key: RunIdKey, value: s.runId },
          { key: PipelineKey, value: 'evaluate' },
          { key: MerchantKey, value: merchantId },
        ],
      }
    : {};
  return (receiptId) =>
    executeChild(evaluateReceipt, {
      workflowId: `${batchWorkflowId}/${receiptId}`,
      args: [{ settings: s, merchantId, receiptId }],
      ...searchAttributes,
    });
}

export async function evaluateBatch(input: EvaluateBatchInput): Promise<{ done: number; failed: number }> {
  const { settings: s, merchantId } = input;
  const out = { done: 0, failed: 0 };
  setHandler(progressQuery, () => ({
    total: input.receiptIds.length,
    ...out,
    merchantsDone: 0,
    merchantsTotal: 1,
  }));
  // Inline, the batch (which carries the run's search attributes) is what the Web UI lists.
  const inline = patched(RECEIPTS_INLINE_PATCH);
  const runReceipt: RunReceipt = inline
    ? (receiptId) => evaluateReceipt({ settings: s, merchantId, receiptId, inline: true })
    : receiptAsChild(s, merchantId);
  const breaker = new RunBreaker();
  await breaker.run(() =>
    slidingWindow(
      input.receiptIds,
      s.widths.receipts,
      async (receiptId) => {
        try {
          const r = await runReceipt(receiptId);
          if (r.status === 'SUCCEEDED') out.done++;
          else out.failed++;
        } catch (err) {
          if (breaker.trip(err)) return;
          out.failed++;
          await (inline ? receiptSteps : io).recordItemFailure({
            runId: s.runId,
            itemId: receiptId,
            reason: errorMessage(err),
            merchantId,
          });
        }
      },
      () => breaker.open,
    ),
  );
  return out;
}
