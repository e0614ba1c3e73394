// An enrichment run that lists its places page by page after a cursor (the last place id started):
// no place id list enters its history (input, activity results or continue-as-new), whatever the
// number of places; a place deleted mid-run shifts nothing.
import { continueAsNew, workflowInfo } from '@temporalio/workflow';
import type { EnrichmentReport } from '../../activities/enrich';
import { chunk } from '../../domain/chunk';
import { beginRoot, completeRoot, pagedWindowThisRun, type RunProgress } from '../shared';
import { enrichInBatchMode } from '../batch-mode/enrich';
import { RunBreaker } from '../run-breaker';
import { enrichBatch, placeLlm } from './enrich-batch';
import type { enrichPlaces } from './enrich-places';
import { io } from './proxies';
import { applyEnrichmentDefaults, type EnrichPlacesInput, type EnrichSettings } from './settings';

/** Place ids per page listed: enough for twice the window of batches, no more than this run starts. */
function pageLimit(s: EnrichSettings, batchesListed: number): number {
  const batches = Math.min(Math.max(2 * s.batchesInFlight, 1), s.continueAsNewAfterBatches - batchesListed);
  return Math.max(batches, 0) * s.batchSize;
}

/** The run's batches, page by page after `after`; `capped` once this run listed all it may start. */
function placePages(s: EnrichSettings, input: EnrichPlacesInput, progress: RunProgress) {
  const pages = { after: input.resume?.cursor?.afterPlace, batchesListed: 0, capped: false };
  const next = async (): Promise<string[][] | undefined> => {
    const limit = pageLimit(s, pages.batchesListed);
    if (limit === 0) {
      pages.capped = true;
      return undefined;
    }
    const page = await io.listPlaceIdPage({
      runId: s.runId,
      ...(input.redriveOf ? { redrive: true } : {}),
      ...(pages.after !== undefined ? { after: pages.after } : {}),
      limit,
      withTotal: !input.resume && pages.batchesListed === 0,
    });
    if (page.total !== undefined) {
      progress.total = page.total;
      progress.merchantsTotal = Math.ceil(page.total / s.batchSize); // shown as batches
    }
    pages.after = page.placeIds.at(-1) ?? pages.after;
    const batches = chunk(page.placeIds, s.batchSize);
    pages.batchesListed += batches.length;
    return batches;
  };
  return { pages, next };
}

export async function enrichPlacesByCursor(input: EnrichPlacesInput): Promise<EnrichmentReport> {
  const s = applyEnrichmentDefaults(input, workflowInfo().workflowId);
  const { startedAt, progress } = beginRoot(s.runId, 'enrich', input.resume);
  if (!input.resume) {
    await io.startRun({ runId: s.runId, pipeline: 'enrich', params: { ...input }, startedAt });
    if (input.redriveOf)
      await io.planRedrive({ runId: s.runId, redriveOf: input.redriveOf, pipeline: 'enrich' });
    // Batch mode: the places' prompts go as Batch API jobs first; their answers wait in the cache.
    if (input.mode === 'batch') await enrichInBatchMode(input, s.runId);
  }
  const llmFor = placeLlm(s);
  const { pages, next } = placePages(s, input, progress);
  let lastStarted = input.resume?.cursor?.afterPlace;
  // A place refused for the provider's credentials stops the run: the other batches are cancelled.
  const breaker = new RunBreaker();
  const fanOut = { width: s.batchesInFlight, quota: s.continueAsNewAfterBatches, breaker };
  const { drained } = await pagedWindowThisRun(next, fanOut, async (batch) => {
    lastStarted = batch.at(-1);
    await enrichBatch(s, llmFor, batch, progress, breaker);
    progress.merchantsDone++;
  });
  if (!drained || pages.capped) {
    // Every place up to the cursor has ended; the next run lists after it (the run's own place ids,
    // when it was given some, are read from its run record, not carried).
    const { placeIds: _carriedByRunRecord, ...rest } = input;
    await continueAsNew<typeof enrichPlaces>({
      ...rest,
      resume: { cursor: lastStarted ? { afterPlace: lastStarted } : {}, startedAt, progress },
    });
  }
  return completeRoot(s.runId, startedAt, io.buildEnrichmentReport);
}
