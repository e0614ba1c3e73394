// The batch jobs of a batch-mode run (OpenAI Batch API, chat completions), one item each in the run's
// partition (`LLMBATCH#<seq>`): a small state machine PREPARED -> UPLOADED -> CREATING -> SUBMITTED ->
// PROCESSED, each step a conditional write, so the provider's batch id is recorded before anything
// can lose it and one attempt at a time creates the batch (jobs recorded before CREATING existed go
// on from UPLOADED).
import type { BatchSubmissionFields } from './batch-submission';
import { stateTransition } from './conditional-writes';
import type { ReceiptStore } from './receipts';
import { runPartition } from './runs';

export type LlmBatchJobState = 'PREPARED' | 'UPLOADED' | 'CREATING' | 'SUBMITTED' | 'PROCESSED';

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

/** A job; its Batch API fields (file, creation claim, batch, last status) are the shared ones. */
export interface LlmBatchJob extends BatchSubmissionFields {
  runId: string;
  seq: number;
  state: LlmBatchJobState;
  /** S3 key of the NDJSON request file (one `/v1/chat/completions` line per prompt). */
  inputKey: string;
  /** S3 key of the JSON index: custom_id -> what its answer must cover. */
  indexKey: string;
  requests: number;
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

  /**
   * Moves a job from one state to the next with its new fields; false if another attempt moved it
   * first, or a field of `when` differs (the creation step is held by another attempt).
   */
  async transition(
    job: Pick<LlmBatchJob, 'runId' | 'seq'>,
    from: LlmBatchJobState,
    to: LlmBatchJobState,
    fields: Partial<LlmBatchJob>,
    when: Partial<Pick<LlmBatchJob, 'creatingBy'>> = {},
  ): Promise<boolean> {
    const u = stateTransition([from], to, fields, when);
    return this.store.updateIf(jobKey(job.runId, job.seq), u.expression, u.condition, u.values, u.names);
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
