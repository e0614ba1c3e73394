// The batch jobs of a batch-mode run (OpenAI Batch API, chat completions), one item each in the run's
// partition (`LLMBATCH#<seq>`): a small state machine PREPARED -> UPLOADED -> SUBMITTED -> PROCESSED,
// each step a conditional write, so the provider's batch id is recorded before anything can lose it.
import type { ReceiptStore } from './receipts';
import { runPartition } from './runs';

export type LlmBatchJobState = 'PREPARED' | 'UPLOADED' | 'SUBMITTED' | 'PROCESSED';

/** What a processed job gave: answers cached, answers invalid, requests without an answer, cost. */
export interface LlmBatchOutcome {
  finalStatus: string;
  requests: number;
  /** Valid answers, written to the LLM cache. */
  answered: number;
  /** Answers that failed their schema (paid; their prompts go realtime, where they are repaired). */
  invalid: number;
  /** Requests the batch did not answer (expired, failed, an error line): they go realtime. */
  unanswered: number;
  promptTokens: number;
  completionTokens: number;
  costUsd: number;
  turnaroundMs: number;
}

export interface LlmBatchJob {
  runId: string;
  seq: number;
  state: LlmBatchJobState;
  /** S3 key of the NDJSON request file (one `/v1/chat/completions` line per prompt). */
  inputKey: string;
  /** S3 key of the JSON index: custom_id -> what its answer must cover. */
  indexKey: string;
  requests: number;
  createdAt: number;
  fileId?: string;
  uploadedAt?: number;
  openaiBatchId?: string;
  submittedAt?: number;
  /** The provider's last status seen. */
  status?: string;
  outcome?: LlmBatchOutcome;
}

const jobKey = (runId: string, seq: number) => ({
  PK: runPartition(runId),
  SK: `LLMBATCH#${String(seq).padStart(5, '0')}`,
});

export class LlmBatchJobStore {
  constructor(private readonly store: ReceiptStore) {}

  /** Records a job unless it exists (a retried preparation keeps the job an earlier attempt made). */
  async create(job: LlmBatchJob): Promise<boolean> {
    return this.store.putIfAbsent({ ...jobKey(job.runId, job.seq), ...job });
  }

  async get(runId: string, seq: number): Promise<LlmBatchJob | undefined> {
    const item = await this.store.get(jobKey(runId, seq));
    return item ? strip(item) : undefined;
  }

  async list(runId: string): Promise<LlmBatchJob[]> {
    return (await this.store.queryPrefix(runPartition(runId), 'LLMBATCH#')).map(strip);
  }

  /** Moves a job from one state to the next with its new fields; false if another attempt moved it first. */
  async transition(
    job: LlmBatchJob,
    from: LlmBatchJobState,
    to: LlmBatchJobState,
    fields: Partial<LlmBatchJob>,
  ): Promise<boolean> {
    const entries = Object.entries({ ...fields, state: to }).filter(([, v]) => v !== undefined);
    const names = Object.fromEntries(entries.map(([k], i) => [`#f${i}`, k]));
    const values = Object.fromEntries(entries.map(([, v], i) => [`:v${i}`, v]));
    return this.store.updateIf(
      jobKey(job.runId, job.seq),
      `SET ${entries.map((_, i) => `#f${i} = :v${i}`).join(', ')}`,
      '#state = :from',
      { ...values, ':from': from },
      { ...names, '#state': 'state' },
    );
  }

  /** Notes the provider's status on the job (best effort: what `report` shows while it runs). */
  async noteStatus(job: LlmBatchJob, status: string): Promise<void> {
    await this.store.updateIf(
      jobKey(job.runId, job.seq),
      'SET #status = :s',
      'attribute_exists(PK)',
      { ':s': status },
      { '#status': 'status' },
    );
  }
}

function strip(item: Record<string, unknown>): LlmBatchJob {
  const { PK: _pk, SK: _sk, ...rest } = item;
  return rest as unknown as LlmBatchJob;
}
