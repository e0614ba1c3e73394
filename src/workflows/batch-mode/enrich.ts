// Batch mode of the place enrichment (`enrich --mode batch`): before the batches of places, one
// prompt per place goes in OpenAI Batch API jobs; the realtime `enrichPlace` of each place is then
// served from the LLM cache (saved as always), and a place the jobs did not answer is called realtime.
import type { EnrichPlacesInput } from '../enrich/settings';
import { runBatchJobs } from './run-jobs';

/** Runs the batch jobs of an enrichment run to their end (answers cached); never fails the run. */
export async function enrichInBatchMode(input: EnrichPlacesInput, runId: string): Promise<void> {
  await runBatchJobs(runId, 'enrich', (acts) =>
    acts.prepareEnrichBatchJobs({
      runId,
      ...(input.placeIds ? { placeIds: input.placeIds } : {}),
      ...(input.redriveOf !== undefined ? { redrive: true } : {}),
      noCache: input.noCache ?? false,
    }),
  );
}
