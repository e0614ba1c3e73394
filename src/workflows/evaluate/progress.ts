// Progress of an evaluation run: what merchants tell the root, and how the root adds it up.
// Merchants used to send one signal per batch (`receiptsDone`, deltas); now each sends its own
// running totals (`merchantProgress`), at most one every `progressEveryMs` plus one when it ends, so
// the root's history no longer grows with the number of batches. Both are still handled: runs
// started by older code keep sending the old ones.
import { defineSignal, getExternalWorkflowHandle, setHandler } from '@temporalio/workflow';
import { progressQuery, type RunProgress } from '../shared';
import { DEFAULT_PROGRESS_EVERY_MS, type Settings } from './settings';

/** Old merchants: receipts planned (once per merchant), then done/failed per batch. */
export const receiptsPlannedSignal = defineSignal<[{ merchantId: string; count: number }]>('receiptsPlanned');
export const receiptsDoneSignal = defineSignal<[{ done: number; failed: number }]>('receiptsDone');

export interface MerchantTotals {
  merchantId: string;
  /** Receipts the merchant has to evaluate in this run. */
  total: number;
  done: number;
  failed: number;
}
/** New merchants: their running totals (a later signal replaces an earlier one). */
export const merchantProgressSignal = defineSignal<[MerchantTotals]>('merchantProgress');

/** Progress carried by a root that continues as new: merchants already ended, summed. */
export type CarriedProgress = RunProgress;

/** The root's view of the run, from both kinds of signals; answers the `progress` query. */
export class RootProgress {
  private readonly planned = new Set<string>();
  /** Old-style deltas, and the sums of merchants carried from an earlier run. */
  private readonly base: RunProgress;
  private readonly byMerchant = new Map<string, MerchantTotals>();

  constructor(carried?: CarriedProgress) {
    this.base = carried
      ? { ...carried }
      : { total: 0, done: 0, failed: 0, merchantsDone: 0, merchantsTotal: 0 };
  }

  listen(): void {
    setHandler(progressQuery, () => this.snapshot());
    setHandler(receiptsPlannedSignal, ({ merchantId, count }) => {
      if (this.planned.has(merchantId)) return; // a continued-as-new merchant re-announces itself
      this.planned.add(merchantId);
      this.base.total += count;
    });
    setHandler(receiptsDoneSignal, ({ done, failed }) => {
      this.base.done += done;
      this.base.failed += failed;
    });
    setHandler(merchantProgressSignal, (t) => {
      const seen = this.byMerchant.get(t.merchantId);
      // Signals of one merchant arrive in order; a stale one (lower counts) changes nothing.
      if (!seen || t.done + t.failed >= seen.done + seen.failed) this.byMerchant.set(t.merchantId, t);
    });
  }

  set merchantsTotal(n: number) {
    this.base.merchantsTotal = n;
  }

  merchantEnded(): void {
    this.base.merchantsDone++;
  }

  snapshot(): RunProgress {
    const p = { ...this.base };
    for (const t of this.byMerchant.values()) {
      p.total += t.total;
      p.done += t.done;
      p.failed += t.failed;
    }
    return p;
  }

  /** Every receipt planned so far is accounted for (the last signals have landed). */
  settled(): boolean {
    const p = this.snapshot();
    return p.done + p.failed >= p.total;
  }
}

/**
 * A merchant's reports to the root: its running totals, sent when a batch ends if `progressEveryMs`
 * have passed since the last one (workflow time: deterministic), and always by `flush`.
 */
export class MerchantReporter {
  private lastSentAt = -Infinity;
  private sentCount = -1;
  private readonly pending: Array<Promise<void>> = [];

  constructor(
    private readonly rootWorkflowId: string,
    private readonly settings: Settings,
    readonly totals: MerchantTotals,
  ) {}

  batchEnded(r: { done: number; failed: number }): void {
    this.totals.done += r.done;
    this.totals.failed += r.failed;
    const every = this.settings.progressEveryMs ?? DEFAULT_PROGRESS_EVERY_MS;
    if (Date.now() - this.lastSentAt >= every) this.send();
  }

  /** Sends the totals unless already sent, and waits until every signal has been delivered. */
  async flush(): Promise<void> {
    if (this.sentCount !== this.totals.done + this.totals.failed) this.send();
    await Promise.all(this.pending);
  }

  send(): void {
    this.lastSentAt = Date.now();
    this.sentCount = this.totals.done + this.totals.failed;
    const sent = getExternalWorkflowHandle(this.rootWorkflowId).signal(merchantProgressSignal, {
      ...this.totals,
    });
    sent.catch(() => undefined); // handled: a failure surfaces from flush, not as unhandled
    this.pending.push(sent);
  }
}
