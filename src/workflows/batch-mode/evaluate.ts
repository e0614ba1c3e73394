// Batch mode of the label evaluation (`--mode batch`): before the fan-out, the run's review prompts
// go as OpenAI Batch API jobs, one pollLlmBatchJob child each; their valid answers land in the LLM
// cache. The realtime fan-out then reviews every receipt as always: served from the cache, saved by
// the same activity, and whatever the batches did not answer is called realtime under the global cap.
import { executeChild, proxyActivities, proxyLocalActivities, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../../activities';
import { dataActivityOptions } from '../embed/options';
import { PipelineKey, RunIdKey, ioLocalActivityOptions } from '../shared';
import type { EvaluateLabelsInput, Settings } from '../evaluate/settings';
import { pollLlmBatchJob } from './poll-job';

const io = proxyLocalActivities<Activities>(ioLocalActivityOptions);

/** Runs the batch jobs of an evaluation run to their end (answers cached); never fails the run. */
export async function reviewInBatchMode(input: EvaluateLabelsInput, s: Settings): Promise<void> {
  if (s.skipLlmReview) return;
  // The Batch API's poll cadence and heartbeat timeout: the embedding pipeline's (EMBED_POLL_*).
  const poll = await io.embeddingSettings();
  const data = proxyActivities<Activities>(dataActivityOptions(poll));
  const prepared = await data.prepareEvaluateBatchJobs({
    runId: s.runId,
    ...(input.merchantIds ? { merchantIds: input.merchantIds } : {}),
    ...(input.redriveOf !== undefined ? { redrive: true } : {}),
    revalidate: s.revalidate,
    chunkSize: s.reviewChunkSize,
    noCache: input.noCache ?? false,
  });
  const parentId = workflowInfo().workflowId;
  await Promise.all(
    prepared.seqs.map(async (seq) => {
      try {
        await executeChild(pollLlmBatchJob, {
          workflowId: `${parentId}/llm-batch-${String(seq).padStart(5, '0')}`,
          args: [{ runId: s.runId, seq, poll }],
          typedSearchAttributes: [
            { key: RunIdKey, value: s.runId },
            { key: PipelineKey, value: 'evaluate' },
          ],
        });
      } catch {
        // A job that ended without its answers cached: its prompts are called realtime.
      }
    }),
  );
}
