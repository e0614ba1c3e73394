// What a batch-mode run's report adds: how its answers came (batch jobs, realtime fallback, cache)
// and what each part cost (the batch answers at the Batch API's price).
import type { CallRecord } from '../../llm/accounting';

export interface BatchModeSummary {
  /** Valid answers of the batch jobs (each served to its receipt from the cache). */
  batchAnswers: number;
  /** Batch answers invalid for their schema (paid; their prompts went realtime). */
  batchInvalid: number;
  batchCostUsd: number;
  /** Calls made realtime (prompts the batch jobs did not answer validly). */
  realtimeCalls: number;
  realtimeCostUsd: number;
}

/** What the report of a pipeline that can send its prompts as Batch API jobs adds. */
export interface PromptModeReport {
  /** How the prompts were sent (reports of older runs lack it: realtime). */
  mode?: 'realtime' | 'batch';
  /** Batch mode: answers and cost of the batch jobs and of the realtime fallback. */
  batch?: BatchModeSummary;
}

const usd = (n: number) => Math.round(n * 1e6) / 1e6;

export function batchModeSummary(calls: readonly CallRecord[]): BatchModeSummary {
  const batch = calls.filter((c) => c.batch);
  const realtime = calls.filter((c) => !c.batch && c.status !== 'cache_hit');
  return {
    batchAnswers: batch.filter((c) => c.status === 'ok').length,
    batchInvalid: batch.filter((c) => c.status !== 'ok').length,
    batchCostUsd: usd(batch.reduce((n, c) => n + c.costUsd, 0)),
    realtimeCalls: realtime.length,
    realtimeCostUsd: usd(realtime.reduce((n, c) => n + c.costUsd, 0)),
  };
}
