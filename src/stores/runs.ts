// Runs, their per-item results and LLM call records, in the same single table (RUN#<runId> partition).
import type { CallRecord } from '../llm/accounting';
import type { ReceiptStore } from './receipts';

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
      PK: `RUN#${meta.runId}`,
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
      PK: `RUN#${runId}`,
      SK: 'META',
      GSI1PK: 'RUNS',
      GSI1SK: String(meta.startedAt),
      status,
      finishedAt: Date.now(),
      report,
    });
  }

  async getRun(runId: string): Promise<RunMeta | undefined> {
    const item = await this.store.get({ PK: `RUN#${runId}`, SK: 'META' });
    return item as RunMeta | undefined;
  }

  /**
   * Writes an item's result once: the first write wins, a retried or replayed write is a no-op.
   * Returns true when this call wrote it.
   */
  async putResult(result: ItemResult): Promise<boolean> {
    return this.store.putIfAbsent({ PK: `RUN#${result.runId}`, SK: `RESULT#${result.itemId}`, ...result });
  }

  /**
   * Writes many results at once (BatchWriteItem). Unlike putResult it overwrites: for callers whose
   * retried write carries the same content (the harmonizer's per-word results).
   */
  async putResults(results: readonly ItemResult[]): Promise<void> {
    await this.store.batchPut(results.map((r) => ({ PK: `RUN#${r.runId}`, SK: `RESULT#${r.itemId}`, ...r })));
  }

  async listResults(runId: string): Promise<ItemResult[]> {
    return (await this.store.queryPrefix(`RUN#${runId}`, 'RESULT#')) as unknown as ItemResult[];
  }

  async listCalls(runId: string): Promise<CallRecord[]> {
    return (await this.store.queryPrefix(`RUN#${runId}`, 'CALL#')) as unknown as CallRecord[];
  }
}
