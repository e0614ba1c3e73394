// Cutting a batch-mode run's request lines into jobs: their files in S3 (per attempt: a retry never
// overwrites what a recorded job names) and their PREPARED records.
import { ApplicationFailure } from '@temporalio/activity';
import type { LlmBatchJob } from '../../stores/llm-batch-jobs';
import type { BatchModeDeps } from './deps';
import type { AnswerCheck } from './requests';

/** One request of a job: its line and what its answer must cover. */
export interface PreparedRequest {
  customId: string;
  line: string;
  check: AnswerCheck;
}

/** `<prefix>llm-batches/<runId>/job-<seq>`: the part of a job's S3 keys that names it. */
export function jobPath(deps: Pick<BatchModeDeps, 's3Prefix'>, runId: string, seq: number): string {
  return `${deps.s3Prefix}llm-batches/${runId}/job-${String(seq).padStart(5, '0')}`;
}

/**
 * Records the jobs of a run, `maxRequestsPerJob` requests each; a job an earlier attempt recorded
 * stays as it was (its files are that attempt's). Returns the jobs' sequence numbers.
 */
export async function recordJobs(
  deps: BatchModeDeps,
  runId: string,
  requests: readonly PreparedRequest[],
  attempt: number,
): Promise<number[]> {
  const seqs: number[] = [];
  for (let start = 0, seq = 0; start < requests.length; start += deps.maxRequestsPerJob, seq++) {
    const part = requests.slice(start, start + deps.maxRequestsPerJob);
    const base = jobPath(deps, runId, seq);
    const inputKey = `${base}/input-${attempt}.jsonl`;
    const indexKey = `${base}/index-${attempt}.json`;
    await deps.objects.putText(inputKey, part.map((r) => r.line).join(''));
    await deps.objects.putText(
      indexKey,
      JSON.stringify(Object.fromEntries(part.map((r) => [r.customId, r.check]))),
      'application/json',
    );
    const job: LlmBatchJob = {
      runId,
      seq,
      state: 'PREPARED',
      inputKey,
      indexKey,
      requests: part.length,
      createdAt: Date.now(),
    };
    await deps.jobs.create(job);
    seqs.push(seq);
  }
  return seqs;
}

/** The job record of a run and sequence number; a missing one is bad input. */
export async function jobOf(
  deps: Pick<BatchModeDeps, 'jobs'>,
  runId: string,
  seq: number,
): Promise<LlmBatchJob> {
  const job = await deps.jobs.get(runId, seq);
  if (!job) throw ApplicationFailure.nonRetryable(`No batch job ${seq} of run ${runId}`, 'InvalidInput');
  return job;
}
