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
  /** The run this one redrives (its failed and unreached items). */
  redriveOf?: string;
  /** Runs that redrove this one, oldest first. */
  redrivenBy?: string[];
}

/** Ids per redrive plan item: well under DynamoDB's 400 KB item limit for ids of up to 128 chars. */
const PLAN_IDS_PER_ITEM = 1_000;

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

  /** One item's result, if written. */
  async getResult(runId: string, itemId: string): Promise<ItemResult | undefined> {
    return (await this.store.get({ PK: runPartition(runId), SK: `RESULT#${itemId}` })) as
      ItemResult | undefined;
  }

  async listResults(runId: string): Promise<ItemResult[]> {
    return (await this.store.queryPrefix(runPartition(runId), 'RESULT#')) as unknown as ItemResult[];
  }

  /**
   * Stores the items a redrive run works on, by group (a merchant's receipts, or all places), under
   * the run's own partition, so the list never travels in workflow history. Rewriting it is harmless:
   * the plan of a run is computed from runs that have ended.
   */
  async putRedrivePlan(runId: string, groups: ReadonlyMap<string, readonly string[]>): Promise<void> {
    const items: Array<Record<string, unknown>> = [];
    for (const [group, ids] of groups) {
      for (let part = 0; part * PLAN_IDS_PER_ITEM < ids.length; part++) {
        items.push({
          PK: `RUN#${runId}`,
          SK: `PLAN#${group}#${String(part).padStart(5, '0')}`,
          group,
          ids: ids.slice(part * PLAN_IDS_PER_ITEM, (part + 1) * PLAN_IDS_PER_ITEM),
        });
      }
    }
    await this.store.batchPut(items);
  }

  /** The redrive plan of a run: group -> ids (in stored order); empty when the run is no redrive. */
  async getRedrivePlan(runId: string, group?: string): Promise<Map<string, string[]>> {
    const items = await this.store.queryPrefix(
      `RUN#${runId}`,
      group === undefined ? 'PLAN#' : `PLAN#${group}#`,
    );
    const plan = new Map<string, string[]>();
    for (const item of items) {
      const g = String(item.group);
      plan.set(g, [...(plan.get(g) ?? []), ...((item.ids as string[]) ?? [])]);
    }
    return plan;
  }

  /** Points an ended run to the run that redrives it (kept on its record, shown by `report`). */
  async linkRedrive(runId: string, redriveRunId: string): Promise<void> {
    const meta = await this.getRun(runId);
    if (!meta || meta.redrivenBy?.includes(redriveRunId)) return;
    await this.store.updateIf(
      { PK: `RUN#${runId}`, SK: 'META' },
      'SET redrivenBy = list_append(if_not_exists(redrivenBy, :none), :new)',
      'attribute_exists(PK)',
      { ':none': [], ':new': [redriveRunId] },
    );
  }

  /**
   * Records the run's provider breaker open for every `llm` process (llm/breaker.ts): a conditional
   * put, so the first opening stays; false when the breaker was open already.
   */
  async openBreaker(runId: string, opening: { openedBy: string; reason: string }): Promise<boolean> {
    return this.store.putIfAbsent({
      PK: runPartition(runId),
      SK: 'BREAKER',
      openedBy: opening.openedBy,
      reason: boundText(opening.reason, MAX_PROVIDER_TEXT),
      openedAt: Date.now(),
    });
  }

  /** How the run's provider breaker was opened, or undefined while it is closed (consistent read). */
  async readBreaker(runId: string): Promise<{ openedBy: string; reason: string } | undefined> {
    const item = await this.store.get({ PK: runPartition(runId), SK: 'BREAKER' });
    return item ? { openedBy: String(item.openedBy), reason: String(item.reason) } : undefined;
  }

  async listCalls(runId: string): Promise<CallRecord[]> {
    return (await this.store.queryPrefix(runPartition(runId), 'CALL#')) as unknown as CallRecord[];
  }
}
