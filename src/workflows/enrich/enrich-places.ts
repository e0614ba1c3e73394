// Place enrichment (seed 004): places in batches (enrich-batch.ts), in a bounded window. A failed
// place is recorded with its reason; the run always completes, continuing as new every so many
// batches. Runs page their places after a cursor (enrich-by-cursor.ts); runs started before that
// patch carry their place list and resume by batch index (below).
import { continueAsNew, patched, workflowInfo } from '@temporalio/workflow';
import type { EnrichmentReport } from '../../activities/enrich';
import { chunk } from '../../domain/chunk';
import { beginRoot, completeRoot, rootRun, windowThisRun } from '../shared';
import { RunBreaker } from '../run-breaker';
import { checkEnrichPlacesInput } from '../root-inputs';
import { enrichBatch, placeLlm } from './enrich-batch';
import { enrichPlacesByCursor } from './enrich-by-cursor';
import { io } from './proxies';
import { applyEnrichmentDefaults, type EnrichPlacesInput, type EnrichSettings } from './settings';
import { enrichInBatchMode } from '../batch-mode/enrich';

/** A run pages its places from the store after the last place id started (patch id). */
export const ENRICH_PLACE_CURSOR_PATCH = 'enrich-place-cursor';

/** Root workflow of one enrichment run. */
export async function enrichPlaces(input: EnrichPlacesInput = {}): Promise<EnrichmentReport> {
  const runId = input?.runId ?? workflowInfo().workflowId;
  return rootRun({
    runId,
    workflowType: 'enrichPlaces',
    failRun: io.failRun,
    checkInput: () => checkEnrichPlacesInput(input),
    body: () => (byCursor(input) ? enrichPlacesByCursor(input) : enrichPlacesByBatchIndex(input)),
  });
}

/** A run continued by older code (a batch index) finishes the old way. */
function byCursor(input: EnrichPlacesInput): boolean {
  if (input.resume) return input.resume.cursor !== undefined;
  return patched(ENRICH_PLACE_CURSOR_PATCH);
}

/** Runs started before the cursor patch: the whole place list in history, resumed by batch index. */
async function enrichPlacesByBatchIndex(input: EnrichPlacesInput = {}): Promise<EnrichmentReport> {
  const s = applyEnrichmentDefaults(input, workflowInfo().workflowId);
  const { startedAt, progress } = beginRoot(s.runId, 'enrich', input.resume);
  const llmFor = placeLlm(s);

  const placeIds = input.resume ? input.placeIds : await startRun(input, s, startedAt);
  if (input.mode === 'batch' && !input.resume) await enrichInBatchMode(input, s.runId);
  const batches = chunk(placeIds ?? [], s.batchSize);
  progress.total = placeIds?.length ?? 0;
  progress.merchantsTotal = batches.length; // shown as batches by the progress bar

  // A place refused for the provider's credentials stops the run: the other batches are cancelled.
  const breaker = new RunBreaker();
  const fanOut = { width: s.batchesInFlight, quota: s.continueAsNewAfterBatches, breaker };
  const next = await windowThisRun(batches, input.resume?.nextBatch ?? 0, fanOut, async (batch) => {
    await enrichBatch(s, llmFor, batch, progress, breaker);
    progress.merchantsDone++;
  });
  if (next < batches.length)
    await continueAsNew<typeof enrichPlaces>({
      ...input,
      placeIds,
      resume: { nextBatch: next, startedAt, progress },
    });
  return completeRoot(s.runId, startedAt, io.buildEnrichmentReport);
}

/** The run started (first run only) and its places listed: a redrive plans them once, stored. */
async function startRun(input: EnrichPlacesInput, s: EnrichSettings, startedAt: number): Promise<string[]> {
  await io.startRun({ runId: s.runId, pipeline: 'enrich', params: { ...input }, startedAt });
  if (input.redriveOf)
    await io.planRedrive({ runId: s.runId, redriveOf: input.redriveOf, pipeline: 'enrich' });
  return io.listPlaceIds({
    placeIds: input.placeIds,
    ...(input.redriveOf ? { redriveRunId: s.runId } : {}),
  });
}
