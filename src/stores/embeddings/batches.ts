// Batch records (`RUN#<runId>` / `EMBEDBATCH#<kind>-<seq>`): the submission state machine that makes
// a batch idempotent across retries, and the open-batch index (GSI1) `embed status` counts.
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { EmbedKind } from '../../domain/embedding';
import { stateTransition } from '../conditional-writes';
import { runPartition } from '../runs';
import { EmbeddingItemStore } from './items';
import { OPEN_BATCHES, batchRecordKey, stamp } from './table';
import type { BatchRecord, BatchState } from './types';

/** Batch records, on top of the item methods. */
export abstract class EmbeddingBatchStore extends EmbeddingItemStore {
  async getBatch(runId: string, kind: EmbedKind, seq: number): Promise<BatchRecord | undefined> {
    const r = await this.getConsistent(batchRecordKey(runId, kind, seq));
    return r as BatchRecord | undefined;
  }

  /** Creates a batch record; false when it exists already (another attempt made it first). */
  async createBatch(record: BatchRecord): Promise<boolean> {
    const open = record.state !== 'EMPTY';
    return this.putIfAbsent({
      ...batchRecordKey(record.runId, record.kind, record.seq),
      type: 'EMBED_BATCH',
      ...(open ? { GSI1PK: OPEN_BATCHES, GSI1SK: `${stamp(record.createdAt)}#${record.batchKey}` } : {}),
      ...record,
    });
  }

  /**
   * Moves a batch record from one state to the next, setting `fields`; false when it was not in
   * `from` (another attempt moved it first) or a field of `when` differs (e.g. the creation step is
   * held by another attempt). A closing state drops it from the open-batch index.
   */
  async transitionBatch(
    record: Pick<BatchRecord, 'runId' | 'kind' | 'seq'>,
    from: BatchState | BatchState[],
    to: BatchState,
    fields: Partial<BatchRecord> = {},
    when: Partial<Pick<BatchRecord, 'creatingBy'>> = {},
  ): Promise<boolean> {
    const u = stateTransition(Array.isArray(from) ? from : [from], to, fields, when);
    const closing = to === 'PROCESSED' || to === 'RELEASED' || to === 'EMPTY';
    return this.updateIf(
      batchRecordKey(record.runId, record.kind, record.seq),
      `${u.expression}${closing ? ' REMOVE GSI1PK, GSI1SK' : ''}`,
      u.condition,
      u.values,
      u.names,
    );
  }

  /** Records the API status last seen (no state change). */
  async noteBatchStatus(record: Pick<BatchRecord, 'runId' | 'kind' | 'seq'>, status: string): Promise<void> {
    await this.ddb.send(
      new UpdateCommand({
        TableName: this.table,
        Key: batchRecordKey(record.runId, record.kind, record.seq),
        UpdateExpression: 'SET #status = :s',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: { ':s': status },
      }),
    );
  }

  async listRunBatches(runId: string): Promise<BatchRecord[]> {
    return (await this.queryAll({
      KeyConditionExpression: 'PK = :pk AND begins_with(SK, :sk)',
      ExpressionAttributeValues: { ':pk': runPartition(runId), ':sk': 'EMBEDBATCH#' },
      ConsistentRead: true,
    })) as unknown as BatchRecord[];
  }

  /** Batches submitted (or being submitted) whose results are not processed yet, all runs. */
  countOpenBatches(): Promise<number> {
    return this.queryCount({
      IndexName: 'GSI1',
      KeyConditionExpression: 'GSI1PK = :pk',
      ExpressionAttributeValues: { ':pk': OPEN_BATCHES },
    });
  }
}
