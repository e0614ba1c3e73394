// Call records: one per call attempt in the run's partition (`CALL#<callId>`), what the report's
// LLM figures (calls, requests, tokens, cost, latency) are summed from.
import { GetCommand, PutCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { type CallRecord, type CallStatus, type LlmMetrics, type PriceTable, costOf } from './accounting';
import type { PaidAnswer } from './answer-ledger';
import { LlmFatalError, LlmInvalidAnswerError, LlmRateLimitedError } from './errors';

/** Who a record is for: the run, the attempt (`callId`), the task and the fairness key. */
export interface CallIdentity {
  runId: string;
  callId: string;
  task: string;
  fairnessKey?: string;
}

export class CallRecorder {
  constructor(
    private readonly deps: {
      ddb: DynamoDBDocumentClient;
      table: string;
      metrics: LlmMetrics;
      prices: PriceTable;
    },
  ) {}

  record(
    input: CallIdentity,
    status: CallStatus,
    started: number,
    promptTokens: number,
    completionTokens: number,
    providerRequests: number,
    model: string,
    latencyMs = Date.now() - started,
  ): CallRecord {
    return {
      runId: input.runId,
      callId: input.callId,
      task: input.task,
      ...(input.fairnessKey ? { fairnessKey: input.fairnessKey } : {}),
      status,
      providerRequests,
      latencyMs,
      promptTokens,
      completionTokens,
      costUsd: costOf(this.deps.prices, model, promptTokens, completionTokens),
      model,
      at: started,
    };
  }

  /** One record per call attempt, in the run's partition (overwrites the same attempt's record). */
  async save(record: CallRecord): Promise<void> {
    this.observe(record);
    await this.write(record);
  }

  /** Counts a record in the process's metrics (`save` does; a batch that writes the item calls this). */
  observe(record: CallRecord): void {
    this.deps.metrics.observe(record);
  }

  /** Writes a record already observed. */
  async write(record: CallRecord): Promise<void> {
    await this.deps.ddb.send(new PutCommand({ TableName: this.deps.table, Item: this.itemOf(record) }));
  }

  /** The item a record is kept as. */
  itemOf(record: CallRecord): Record<string, unknown> {
    return { PK: `RUN#${record.runId}`, SK: `CALL#${record.callId}`, ...record };
  }

  /** The table records are written to (a batch with other items must write the same one). */
  get table(): string {
    return this.deps.table;
  }

  /**
   * An attempt answered from the answer ledger: a `cache_hit` record marked `replayed` (no request,
   * no cost). If the attempt that paid died before its own record was written, that record is
   * written now from the ledger, so the run's figures still count what was paid. Best effort.
   */
  async replayed(input: CallIdentity, paid: PaidAnswer, started: number): Promise<CallRecord> {
    const record: CallRecord = {
      ...this.record(input, 'cache_hit', started, 0, 0, 0, paid.model),
      replayed: true,
    };
    await Promise.allSettled([this.save(record), this.recoverPaid(input, paid)]);
    return record;
  }

  private async recoverPaid(input: CallIdentity, paid: PaidAnswer): Promise<void> {
    if (paid.providerRequests === 0 || paid.paidByCallId === input.callId) return;
    const r = await this.deps.ddb.send(
      new GetCommand({
        TableName: this.deps.table,
        Key: { PK: `RUN#${input.runId}`, SK: `CALL#${paid.paidByCallId}` },
      }),
    );
    if (r.Item) return;
    await this.save(
      this.record(
        { ...input, callId: paid.paidByCallId },
        'ok',
        paid.at,
        paid.promptTokens,
        paid.completionTokens,
        paid.providerRequests,
        paid.model,
        paid.latencyMs,
      ),
    );
  }
}

/** The status a failed call is recorded with. */
export function statusOf(err: unknown): CallStatus {
  if (err instanceof LlmRateLimitedError) return 'rate_limited';
  if (err instanceof LlmInvalidAnswerError) return 'invalid_answer';
  if (err instanceof LlmFatalError) return 'fatal';
  return 'error';
}
