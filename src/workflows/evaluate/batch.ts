// One batch of an evaluation run: `widths.receipts` receipt children at a time. Never throws for one
// bad receipt (it is recorded as failed).
import { executeChild, patched, setHandler, workflowInfo } from '@temporalio/workflow';
import { MerchantKey, PipelineKey, RunIdKey, errorMessage, progressQuery, slidingWindow } from '../shared';
import { RunBreaker } from '../run-breaker';
import { io } from './proxies';
import { evaluateReceipt } from './receipt';
import type { Settings } from './settings';

/** Receipt children carry the run's search attributes, as the others do (patch id). */
export const RECEIPT_SEARCH_ATTRIBUTES_PATCH = 'receipt-search-attributes';

export interface EvaluateBatchInput {
  settings: Settings;
  merchantId: string;
  receiptIds: string[];
}

export async function evaluateBatch(input: EvaluateBatchInput): Promise<{ done: number; failed: number }> {
  const { settings: s, merchantId } = input;
  const info = workflowInfo();
  const out = { done: 0, failed: 0 };
  setHandler(progressQuery, () => ({
    total: input.receiptIds.length,
    ...out,
    merchantsDone: 0,
    merchantsTotal: 1,
  }));
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
  const breaker = new RunBreaker();
  await breaker.run(() =>
    slidingWindow(
      input.receiptIds,
      s.widths.receipts,
      async (receiptId) => {
        try {
          const r = await executeChild(evaluateReceipt, {
            workflowId: `${info.workflowId}/${receiptId}`,
            args: [{ settings: s, merchantId, receiptId }],
            ...searchAttributes,
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
            merchantId,
          });
        }
      },
      () => breaker.open,
    ),
  );
  return out;
}
