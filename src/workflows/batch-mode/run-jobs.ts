// The batch-mode step every pipeline shares: the run's jobs prepared by one activity, then one
// pollLlmBatchJob child per job, all awaited (their answers are in the LLM cache when this returns).
import { executeChild, proxyActivities, proxyLocalActivities, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../../activities';
import type { BatchPollSettings, PreparedBatchJobs } from '../../activities/batch-mode';
import { dataActivityOptions } from '../embed/options';
import { PipelineKey, RunIdKey, ioLocalActivityOptions } from '../shared';
import { pollLlmBatchJob } from './poll-job';

const io = proxyLocalActivities<Activities>(ioLocalActivityOptions);

/** Prepares a run's batch jobs and runs them to their end; never fails the run (what fails goes realtime). */
export async function runBatchJobs(
  runId: string,
  pipeline: string,
  prepare: (acts: Activities) => Promise<PreparedBatchJobs>,
): Promise<void> {
  // The Batch API's poll cadence and heartbeat timeout: the embedding pipeline's (EMBED_POLL_*).
  const e = await io.embeddingSettings();
  // Only what a poll workflow reads travels in its input (and history).
  const poll: BatchPollSettings = {
    pollInitialMs: e.pollInitialMs,
    pollMaxMs: e.pollMaxMs,
    pollBackoff: e.pollBackoff,
    pollsPerRun: e.pollsPerRun,
    pollGiveUpMs: e.pollGiveUpMs,
    heartbeatTimeoutMs: e.heartbeatTimeoutMs,
    ...(e.dataMaxAttempts !== undefined ? { dataMaxAttempts: e.dataMaxAttempts } : {}),
  };
  const prepared = await prepare(proxyActivities<Activities>(dataActivityOptions(poll)));
  const parentId = workflowInfo().workflowId;
  await Promise.all(
    prepared.seqs.map(async (seq) => {
      try {
        await executeChild(pollLlmBatchJob, {
          workflowId: `${parentId}/llm-batch-${String(seq).padStart(5, '0')}`,
          args: [{ runId, seq, poll }],
          typedSearchAttributes: [
            { key: RunIdKey, value: runId },
            { key: PipelineKey, value: pipeline },
          ],
        });
      } catch {
        // A job that ended without its answers cached: its prompts are called realtime.
      }
    }),
  );
}
