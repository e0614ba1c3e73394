// submitLlmBatchJob and checkLlmBatchJob: a job's way to the provider as a state machine over its
// record (PREPARED -> UPLOADED -> CREATING -> SUBMITTED; a retry resumes where the last attempt
// stopped, finds a batch it created but could not record, and never creates one beside an attempt
// still running), then one look at the batch per poll.
import { ApplicationFailure, Context } from '@temporalio/activity';
import { batchCheckOf, type BatchCheck } from '../../llm/batch-api';
import { toActivityFailure } from '../../llm/errors';
import type { LlmBatchJob } from '../../stores/llm-batch-jobs';
import {
  awaitOrTakeOverCreation,
  claimCreation,
  creationHolder,
  type BatchCreation,
} from '../shared/batch-creation';
import { heartbeating } from '../shared/heartbeating';
import type { BatchModeDeps } from './deps';
import { jobOf } from './jobs';

export interface LlmBatchJobRef {
  runId: string;
  seq: number;
}

/** What every step of one submission attempt works with. */
interface JobStep {
  deps: BatchModeDeps;
  ctx: Context;
  /** This attempt, unique (two attempts may share a number): who holds a CREATING job. */
  holder: string;
}

/** PREPARED -> UPLOADED: the request file at the provider. */
async function upload({ deps }: JobStep, job: LlmBatchJob) {
  const body = await deps.objects.getText(job.inputKey);
  if (body === undefined)
    throw ApplicationFailure.nonRetryable(`Request file ${job.inputKey} is missing from S3`, 'InvalidInput');
  const fileId = await deps.batchApi.uploadInputFile(body, `${job.runId}-job-${job.seq}.jsonl`);
  const won = await deps.jobs.transition(job, 'PREPARED', 'UPLOADED', { fileId, uploadedAt: Date.now() });
  if (!won) await deps.batchApi.deleteFile(fileId).catch(() => undefined); // a concurrent attempt uploaded first
}

/** The job's side of the shared creation step: its conditional writes, a chat-completions batch. */
function creationOf({ deps, ctx, holder }: JobStep, job: LlmBatchJob): BatchCreation<LlmBatchJob> {
  const { jobs, batchApi } = deps;
  return {
    records: {
      transition: (rec, from, to, fields, when) => jobs.transition(rec, from, to, fields, when),
      reread: (rec) => jobs.get(rec.runId, rec.seq),
    },
    batchApi,
    ctx,
    holder,
    // The tags jobs have always been created with: a batch an older attempt made is found by them too.
    metadata: { run_id: job.runId.slice(0, 512), job: String(job.seq) },
    create: (fileId, metadata) => batchApi.createBatch(fileId, '/v1/chat/completions', metadata),
  };
}

/**
 * UPLOADED -> CREATING -> SUBMITTED: one attempt at a time creates the batch (or finds the one an
 * earlier attempt made) and records its id; another waits for it, or takes over a lapsed claim.
 */
const ADVANCE: Partial<Record<LlmBatchJob['state'], (step: JobStep, job: LlmBatchJob) => Promise<void>>> = {
  PREPARED: upload,
  UPLOADED: (step, job) => claimCreation(creationOf(step, job), job),
  CREATING: (step, job) => awaitOrTakeOverCreation(creationOf(step, job), job),
};

function failureOf(err: unknown): unknown {
  return err instanceof ApplicationFailure ? err : toActivityFailure(err);
}

export function createSubmitLlmBatchActivities(deps: BatchModeDeps) {
  return {
    /**
     * Uploads and creates a job's batch; idempotent (every retry resumes from the recorded state),
     * and an attempt that finds another creating the batch waits for it.
     */
    async submitLlmBatchJob(input: LlmBatchJobRef): Promise<{ openaiBatchId: string }> {
      const ctx = Context.current();
      const step: JobStep = { deps, ctx, holder: creationHolder(ctx.info.attempt) };
      try {
        // Heartbeats while a slow step runs (a provider call under load): an attempt that is alive
        // is not timed out and retried beside itself.
        return await heartbeating(async () => {
          let job = await jobOf(deps, input.runId, input.seq);
          for (let advance = ADVANCE[job.state]; advance; advance = ADVANCE[job.state]) {
            ctx.heartbeat();
            await advance(step, job);
            job = await jobOf(deps, input.runId, input.seq);
          }
          return { openaiBatchId: job.openaiBatchId ?? '' };
        });
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
