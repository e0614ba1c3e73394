// Activities every pipeline's root uses: the run record (started, failed or cancelled), one item's
// failure, and the merchants a run covers.
import { ApplicationFailure } from '@temporalio/activity';
import type { ReceiptStore } from '../../stores/receipts';
import type { RunStore } from '../../stores/runs';

export function createRunRecordActivities({ receipts, runs }: { receipts: ReceiptStore; runs: RunStore }) {
  return {
    async startRun(input: {
      runId: string;
      pipeline: string;
      params: Record<string, unknown>;
      startedAt: number;
    }) {
      await runs.startRun({
        runId: input.runId,
        pipeline: input.pipeline,
        status: 'RUNNING',
        startedAt: input.startedAt,
        params: input.params,
        ...(typeof input.params.redriveOf === 'string' ? { redriveOf: input.params.redriveOf } : {}),
      });
    },

    /** A root workflow failed or was cancelled: the run record says so, with the reason. */
    async failRun(input: { runId: string; status: 'FAILED' | 'CANCELLED'; reason: string }) {
      await runs.finishRun(input.runId, { status: input.status, reason: input.reason }, input.status);
    },

    async recordItemFailure(input: { runId: string; itemId: string; reason: string; merchantId?: string }) {
      await runs.putResult({
        runId: input.runId,
        itemId: input.itemId,
        status: 'FAILED',
        reason: input.reason,
        detail: { merchantId: input.merchantId },
        attempt: 1,
        at: Date.now(),
      });
    },

    /**
     * The merchants of a run: a redrive's from its plan, else those asked for (all by default, in id
     * order); with `after`, only those after that one (a root that continued as new).
     */
    async listMerchantIds(input: {
      merchantIds?: string[];
      redriveRunId?: string;
      after?: string;
    }): Promise<string[]> {
      const ids = await merchantsOf(input);
      if (input.after === undefined) return ids;
      const at = ids.indexOf(input.after);
      return at >= 0 ? ids.slice(at + 1) : ids.filter((id) => id > input.after!);
    },
  };

  async function merchantsOf(input: { merchantIds?: string[]; redriveRunId?: string }): Promise<string[]> {
    if (input.redriveRunId) return [...(await runs.getRedrivePlan(input.redriveRunId)).keys()].sort();
    const all = (await receipts.listMerchants()).map((m) => m.merchantId).sort();
    if (!input.merchantIds?.length) return all;
    const unknown = input.merchantIds.filter((m) => !all.includes(m));
    if (unknown.length)
      throw ApplicationFailure.nonRetryable(`Unknown merchant ids: ${unknown.join(', ')}`, 'UnknownMerchant');
    return input.merchantIds;
  }
}
