// Runs, their per-item results and LLM call records, in the same single table (RUN#<runId> partition).
import type { CallRecord } from '../llm/accounting';
import type { ReceiptStore } from './receipts';
import { boundStrings, boundText, MAX_PROVIDER_TEXT } from '../domain/bounded-text';
import { validId } from '../domain/ids';

/** Partition of a run (its META item, results, call records); the run id is validated. */
export const runPartition = (runId: string) => `RUN#${validId('run id', runId)}`;

/**
 * A result as stored: its reason and every string of its detail bounded (they carry provider text,
 * such as review reasons and quality messages, that no answer schema bounds in OpenAI strict mode).
 */
function storedResult(r: ItemResult): Record<string, unknown> & { PK: string; SK: string } {
  return {
    PK: runPartition(r.runId),
    SK: `RESULT#${r.itemId}`,
    ...r,
    ...(r.reason !== undefined ? { reason: boundText(r.reason, MAX_PROVIDER_TEXT) } : {}),
    ...(r.detail !== undefined ? { detail: boundStrings(r.detail, MAX_PROVIDER_TEXT) } : {}),
  };
}

export type ItemStatus = 'SUCCEEDED' | 'FAILED';

export interface ItemResult {
  runId: string;
  itemId: string;
  status: ItemStatus;
  reason?: string;
  /** Pipeline-specific detail (e.g. the review decisions of a receipt). */
  detail?: Record<string, unknown>;
  attempt: number;
  at: number;
}

export interface RunMeta {
  runId: string;
  pipeline: string;
  status: 'RUNNING' | 'COMPLETED' | 'FAILED' | 'CANCELLED';
  startedAt: number;
  finishedAt?: number;
  params?: Record<string, unknown>;
  report?: Record<string, unknown>;
}

export class RunStore {
  constructor(private readonly store: ReceiptStore) {}

  async startRun(meta: RunMeta): Promise<void> {
    await this.store.putIfAbsent({
      PK: runPartition(meta.runId),
      SK: 'META',
      GSI1PK: 'RUNS',
      GSI1SK: String(meta.startedAt),
      ...meta,
    });
  }

  async finishRun(runId: string, report: Record<string, unknown>, status: RunMeta['status'] = 'COMPLETED') {
    const meta = (await this.getRun(runId)) ?? { runId, pipeline: 'unknown', startedAt: Date.now() };
    await this.store.put({
      ...meta,
      PK: runPartition(runId),
      SK: 'META',
      GSI1PK: 'RUNS',
      GSI1SK: String(meta.startedAt),
      status,
      finishedAt: Date.now(),
      // Reports quote failure reasons (some are error messages of providers and services).
      report: boundStrings(report, MAX_PROVIDER_TEXT),
    });
  }

  async getRun(runId: string): Promise<RunMeta | undefined> {
    const item = await this.store.get({ PK: runPartition(runId), SK: 'META' });
    return item as RunMeta | undefined;
  }

  /**
   * Writes an item's result once: the first write wins, a retried or replayed write is a no-op.
   * Returns true when this call wrote it.
   */
  async putResult(result: ItemResult): Promise<boolean> {
    return this.store.putIfAbsent(storedResult(result));
  }

  /**
   * Writes many results at once (BatchWriteItem). Unlike putResult it overwrites: for callers whose
   * retried write carries the same content (the harmonizer's per-word results).
   */
  async putResults(results: readonly ItemResult[]): Promise<void> {
    await this.store.batchPut(results.map(storedResult));
  }

  async listResults(runId: string): Promise<ItemResult[]> {
    return (await this.store.queryPrefix(runPartition(runId), 'RESULT#')) as unknown as ItemResult[];
  }

  async listCalls(runId: string): Promise<CallRecord[]> {
    return (await this.store.queryPrefix(runPartition(runId), 'CALL#')) as unknown as CallRecord[];
  }
}
