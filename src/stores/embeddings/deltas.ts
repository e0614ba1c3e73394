// Delta records (`EMBEDDELTA#<batchKey>`): vectors written to S3 and waiting for the compactor, by
// state in GSI1 (PENDING oldest first, APPLIED, FAILED), with the redrive of a FAILED one.
import { boundText, MAX_PROVIDER_TEXT } from '../../domain/bounded-text';
import { EmbeddingBatchStore } from './batches';
import { deltaKey, deltaPartition, stamp } from './table';
import type { DeltaItem } from './types';

/** Delta records, on top of the batch and item methods. */
export abstract class EmbeddingDeltaStore extends EmbeddingBatchStore {
  /** Records a delta written to S3, once: a retry never resets an APPLIED delta to PENDING. */
  async putDelta(delta: DeltaItem): Promise<boolean> {
    return this.putIfAbsent({
      ...deltaKey(delta.batchKey),
      type: 'EMBED_DELTA',
      GSI1PK: deltaPartition(delta.state),
      GSI1SK: `${stamp(delta.createdAt)}#${delta.batchKey}`,
      ...delta,
    });
  }

  async getDelta(batchKey: string): Promise<DeltaItem | undefined> {
    return (await this.getConsistent(deltaKey(batchKey))) as DeltaItem | undefined;
  }

  /** Oldest pending deltas first, at most `limit` (all runs, or one run). */
  async listPendingDeltas(limit: number, runId?: string): Promise<DeltaItem[]> {
    const items = await this.queryUpTo(
      {
        IndexName: 'GSI1',
        KeyConditionExpression: 'GSI1PK = :pk',
        ExpressionAttributeValues: { ':pk': deltaPartition('PENDING'), ...(runId ? { ':run': runId } : {}) },
        ...(runId ? { FilterExpression: 'runId = :run' } : {}),
      },
      limit,
      { filtered: true },
    );
    return items as unknown as DeltaItem[];
  }

  /** PENDING -> APPLIED; false when it was applied already (a retried compaction step). */
  async markDeltaApplied(delta: DeltaItem, at: number, by: string): Promise<boolean> {
    return this.updateIf(
      deltaKey(delta.batchKey),
      'SET #state = :applied, GSI1PK = :gsi, appliedAt = :at, appliedBy = :by',
      '#state = :pending',
      {
        ':applied': 'APPLIED',
        ':pending': 'PENDING',
        ':gsi': deltaPartition('APPLIED'),
        ':at': at,
        ':by': by,
      },
      { '#state': 'state' },
    );
  }

  /** PENDING -> FAILED with a reason: a delta that cannot be applied no longer blocks the others. */
  async markDeltaFailed(batchKey: string, reason: string, at: number): Promise<boolean> {
    return this.updateIf(
      deltaKey(batchKey),
      'SET #state = :failed, GSI1PK = :gsi, reason = :r, failedAt = :at',
      '#state = :pending',
      {
        ':failed': 'FAILED',
        ':pending': 'PENDING',
        ':gsi': deltaPartition('FAILED'),
        ':r': boundText(reason, MAX_PROVIDER_TEXT),
        ':at': at,
      },
      { '#state': 'state' },
    );
  }

  /**
   * FAILED -> PENDING (a redrive), at most `maxRedrives` times per delta, so a delta that can never
   * be applied stops coming back. False when it is not FAILED or its redrives are spent.
   */
  async redriveDelta(delta: DeltaItem, maxRedrives: number): Promise<boolean> {
    const redrives = delta.redrives ?? 0;
    if (redrives >= maxRedrives) return false;
    return this.updateIf(
      deltaKey(delta.batchKey),
      'SET #state = :pending, GSI1PK = :gsi, redrives = :n REMOVE failedAt',
      '#state = :failed AND ' +
        (redrives === 0 ? '(attribute_not_exists(redrives) OR redrives = :prev)' : 'redrives = :prev'),
      {
        ':failed': 'FAILED',
        ':pending': 'PENDING',
        ':gsi': deltaPartition('PENDING'),
        ':n': redrives + 1,
        ':prev': redrives,
      },
      { '#state': 'state' },
    );
  }

  countDeltas(state: DeltaItem['state']): Promise<number> {
    return this.queryCount({
      IndexName: 'GSI1',
      KeyConditionExpression: 'GSI1PK = :pk',
      ExpressionAttributeValues: { ':pk': deltaPartition(state) },
    });
  }

  async listDeltas(state: DeltaItem['state']): Promise<DeltaItem[]> {
    return (await this.queryAll({
      IndexName: 'GSI1',
      KeyConditionExpression: 'GSI1PK = :pk',
      ExpressionAttributeValues: { ':pk': deltaPartition(state) },
    })) as unknown as DeltaItem[];
  }
}
