// Batch mode of the label evaluation (`--mode batch`): before the fan-out, the run's review prompts
// go as OpenAI Batch API jobs, one pollLlmBatchJob child each; their valid answers land in the LLM
// cache. The realtime fan-out then reviews every receipt as always: served from the cache, saved by
// the same activity, and whatever the batches did not answer is called realtime under the global cap.
import type { EvaluateLabelsInput, Settings } from '../evaluate/settings';
import { runBatchJobs } from './run-jobs';

/** Runs the batch jobs of an evaluation run to their end (answers cached); never fails the run. */
export async function reviewInBatchMode(input: EvaluateLabelsInput, s: Settings): Promise<void> {
  if (s.skipLlmReview) return;
  await runBatchJobs(s.runId, 'evaluate', (acts) =>
    acts.prepareEvaluateBatchJobs({
      runId: s.runId,
      ...(input.merchantIds ? { merchantIds: input.merchantIds } : {}),
      ...(input.redriveOf !== undefined ? { redrive: true } : {}),
      revalidate: s.revalidate,
      chunkSize: s.reviewChunkSize,
      noCache: input.noCache ?? false,
    }),
  );
}
