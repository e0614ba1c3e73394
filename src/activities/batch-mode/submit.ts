// submitLlmBatchJob and checkLlmBatchJob: a job's way to the provider as a state machine over its
// record (PREPARED -> UPLOADED -> SUBMITTED; a retry resumes where the last attempt stopped, and
// finds a batch it created but could not record), then one look at the batch per poll.
import { ApplicationFailure, Context } from '@temporalio/activity';
import { batchCheckOf, type BatchCheck } from '../../llm/batch-api';
import { toActivityFailure } from '../../llm/errors';
import type { LlmBatchJob } from '../../stores/llm-batch-jobs';
import type { BatchModeDeps } from './deps';
import { jobOf } from './jobs';

export interface LlmBatchJobRef {
  runId: string;
  seq: number;
}

/** PREPARED -> UPLOADED: the request file at the provider. */
async function upload(deps: BatchModeDeps, job: LlmBatchJob) {
  const body = await deps.objects.getText(job.inputKey);
  if (body === undefined)
    throw ApplicationFailure.nonRetryable(`Request file ${job.inputKey} is missing from S3`, 'InvalidInput');
  const fileId = await deps.batchApi.uploadInputFile(body, `${job.runId}-job-${job.seq}.jsonl`);
  const won = await deps.jobs.transition(job, 'PREPARED', 'UPLOADED', { fileId, uploadedAt: Date.now() });
  if (!won) await deps.batchApi.deleteFile(fileId).catch(() => undefined); // a concurrent attempt uploaded first
}

/** UPLOADED -> SUBMITTED: the batch created (or found, if an earlier attempt created it) and its id recorded. */
async function create(deps: BatchModeDeps, job: LlmBatchJob) {
  const since = Math.floor((job.uploadedAt ?? job.createdAt) / 1000) - 300;
  const existing = await deps.batchApi.findByInputFile(job.fileId!, since);
  const batch =
    existing ??
    (await deps.batchApi.createBatch(job.fileId!, '/v1/chat/completions', {
      run_id: job.runId.slice(0, 512),
      job: String(job.seq),
    }));
  const won = await deps.jobs.transition(job, 'UPLOADED', 'SUBMITTED', {
    openaiBatchId: batch.id,
    submittedAt: Date.now(),
    status: batch.status,
  });
  if (!won && !existing) await deps.batchApi.cancel(batch.id).catch(() => undefined);
}

const ADVANCE: Partial<
  Record<LlmBatchJob['state'], (deps: BatchModeDeps, job: LlmBatchJob) => Promise<void>>
> = {
  PREPARED: upload,
  UPLOADED: create,
};

function failureOf(err: unknown): unknown {
  return err instanceof ApplicationFailure ? err : toActivityFailure(err);
}

export function createSubmitLlmBatchActivities(deps: BatchModeDeps) {
  return {
    /** Uploads and creates a job's batch; idempotent (every retry resumes from the recorded state). */
    async submitLlmBatchJob(input: LlmBatchJobRef): Promise<{ openaiBatchId: string }> {
      const ctx = Context.current();
      try {
        let job = await jobOf(deps, input.runId, input.seq);
        for (let advance = ADVANCE[job.state]; advance; advance = ADVANCE[job.state]) {
          ctx.heartbeat();
          await advance(deps, job);
          job = await jobOf(deps, input.runId, input.seq);
        }
        return { openaiBatchId: job.openaiBatchId ?? '' };
      } catch (err) {
        throw failureOf(err);
      }
    },

    /** One poll: the batch's status (noted on the job record). */
    async checkLlmBatchJob(input: LlmBatchJobRef): Promise<BatchCheck> {
      try {
        const job = await jobOf(deps, input.runId, input.seq);
        if (!job.openaiBatchId)
          throw ApplicationFailure.nonRetryable(`Batch job ${input.seq} was never submitted`, 'InvalidInput');
        const b = await deps.batchApi.retrieve(job.openaiBatchId);
        if (job.status !== b.status) await deps.jobs.noteStatus(job, b.status);
        return batchCheckOf(b);
      } catch (err) {
        throw failureOf(err);
      }
    },
  };
}
