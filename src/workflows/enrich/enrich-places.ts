// Place enrichment (seed 004): places in batches (enrich-batch.ts), in a bounded window. A failed
// place is recorded with its reason; the run always completes, continuing as new every so many
// batches.
import { continueAsNew, proxyActivities, setHandler, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../../activities';
import type { EnrichmentReport } from '../../activities/enrich';
import { chunk } from '../../domain/chunk';
import { progressQuery, type RunProgress } from '../shared';
import { llmActivityOptions, slidingWindow, rootRun, markRunRunning, markRunCompleted } from '../shared';
import { RunBreaker } from '../run-breaker';
import { checkEnrichPlacesInput } from '../root-inputs';
import { enrichBatch } from './enrich-batch';
import { io } from './proxies';
import { applyEnrichmentDefaults, type EnrichPlacesInput, type EnrichSettings } from './settings';
import { enrichInBatchMode } from '../batch-mode/enrich';

/** Root workflow of one enrichment run. */
export async function enrichPlaces(input: EnrichPlacesInput = {}): Promise<EnrichmentReport> {
  const runId = input?.runId ?? workflowInfo().workflowId;
  return rootRun({
    runId,
    workflowType: 'enrichPlaces',
    failRun: io.failRun,
    checkInput: () => checkEnrichPlacesInput(input),
    body: () => enrichPlacesRun(input),
  });
}

async function enrichPlacesRun(input: EnrichPlacesInput = {}): Promise<EnrichmentReport> {
  const s = applyEnrichmentDefaults(input, workflowInfo().workflowId);
  const startedAt = input.resume?.startedAt ?? Date.now(); // workflow time: deterministic
  const progress: RunProgress = input.resume?.progress ?? {
    total: 0,
    done: 0,
    failed: 0,
    merchantsDone: 0,
    merchantsTotal: 0,
  };
  setHandler(progressQuery, () => progress);
  markRunRunning(s.runId, 'enrich');
  // One LLM activity per place, its id the place's: unique across continue-as-new runs of this
  // workflow id, so call records (keyed by workflow id + activity id + attempt) never collide.
  const llmOptions = llmActivityOptions(s.runId, s.priority, s.llmTaskQueue);
  const llmFor = (placeId: string) =>
    proxyActivities<Activities>({ ...llmOptions, activityId: `enrich/${placeId}` });

  const placeIds = input.resume ? input.placeIds : await startRun(input, s, startedAt);
  if (input.mode === 'batch' && !input.resume) await enrichInBatchMode(input, s.runId);
  const batches = chunk(placeIds ?? [], s.batchSize);
  progress.total = placeIds?.length ?? 0;
  progress.merchantsTotal = batches.length; // shown as batches by the progress bar

  const first = input.resume?.nextBatch ?? 0;
  let started = 0;
  const stop = () => started >= s.continueAsNewAfterBatches || workflowInfo().continueAsNewSuggested;
  // A place refused for the provider's credentials stops the run: the other batches are cancelled.
  const breaker = new RunBreaker();
  const nextIndex = await breaker.run(() =>
    slidingWindow(
      batches.slice(first),
      s.batchesInFlight,
      async (batch) => {
        started++;
        await enrichBatch(s, llmFor, batch, progress, breaker);
        progress.merchantsDone++;
      },
      () => breaker.open || stop(),
    ),
  );
  const next = first + nextIndex;
  if (next < batches.length)
    await continueAsNew<typeof enrichPlaces>({
      ...input,
      placeIds,
      resume: { nextBatch: next, startedAt, progress },
    });
  const report = await io.buildEnrichmentReport({
    runId: s.runId,
    status: 'COMPLETED',
    makespanMs: Date.now() - startedAt,
  });
  markRunCompleted();
  return report;
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
