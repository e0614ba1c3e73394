// Place enrichment (seed 004): places in batches; per batch one prefetch (one batched read, base
// data saved PENDING before any LLM call), then one combined LLM call per place, each place saved
// on its own. A failed place is recorded with its reason; the run always completes.
import {
  continueAsNew,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { EnrichmentReport } from '../activities/enrichment';
import { chunk } from '../domain/chunk';
import { progressQuery, type RunProgress } from './shared';
import {
  LLM_QUEUE,
  errorMessage,
  ioLocalActivityOptions,
  llmActivityOptions,
  slidingWindow,
  type RunPriority,
  rootRun,
  markRunRunning,
  markRunCompleted,
} from './shared';
import { RunBreaker } from './run-breaker';
import { checkEnrichPlacesInput } from './root-inputs';

const io = proxyLocalActivities<Activities>(ioLocalActivityOptions);

export interface EnrichPlacesInput {
  /** Defaults to the workflow id. */
  runId?: string;
  /** Only these places (default: every place). */
  placeIds?: string[];
  /** Places per prefetch (one batched read). @default 10 */
  batchSize?: number;
  /** Batches in flight at once; their LLM calls queue on the `llm` queue's global cap. @default 4 */
  batchesInFlight?: number;
  /** Bypass the LLM cache for this run. @default false */
  noCache?: boolean;
  /** Priority of this run's LLM calls against other runs. @default 'normal' */
  priority?: RunPriority;
  /** Continue as new after this many batches (history stays small for any number of places). @default 200 */
  continueAsNewAfterBatches?: number;
  /** Task queue of the LLM activities. @default 'llm' */
  llmTaskQueue?: string;
  /** Redrive this ended run: only its places that did not succeed (`npm run cli -- redrive`). */
  redriveOf?: string;
  /** Set when continuing as new: where the previous run stopped. */
  resume?: { nextBatch: number; startedAt: number; progress: RunProgress };
}

type Settings = Required<Omit<EnrichPlacesInput, 'placeIds' | 'resume' | 'redriveOf'>>;

export function applyEnrichmentDefaults(input: EnrichPlacesInput, workflowId: string): Settings {
  return {
    runId: input.runId ?? workflowId,
    batchSize: input.batchSize ?? 10,
    batchesInFlight: input.batchesInFlight ?? 4,
    noCache: input.noCache ?? false,
    priority: input.priority ?? 'normal',
    continueAsNewAfterBatches: input.continueAsNewAfterBatches ?? 200,
    llmTaskQueue: input.llmTaskQueue ?? LLM_QUEUE,
  };
}

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

  let placeIds = input.placeIds;
  if (!input.resume) {
    await io.startRun({ runId: s.runId, pipeline: 'enrich', params: { ...input }, startedAt });
    // A redrive plans its places once (stored) and lists them from the plan.
    if (input.redriveOf)
      await io.planRedrive({ runId: s.runId, redriveOf: input.redriveOf, pipeline: 'enrich' });
    placeIds = await io.listPlaceIds({
      placeIds: input.placeIds,
      ...(input.redriveOf ? { redriveRunId: s.runId } : {}),
    });
  }
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
  if (next < batches.length) {
    await continueAsNew<typeof enrichPlaces>({
      ...input,
      placeIds,
      resume: { nextBatch: next, startedAt, progress },
    });
  }
  const report = await io.buildEnrichmentReport({
    runId: s.runId,
    status: 'COMPLETED',
    makespanMs: Date.now() - startedAt,
  });
  markRunCompleted();
  return report;
}

async function enrichBatch(
  s: Settings,
  llmFor: (placeId: string) => ReturnType<typeof proxyActivities<Activities>>,
  placeIds: string[],
  progress: RunProgress,
  breaker: RunBreaker,
): Promise<void> {
  let batch;
  try {
    batch = await io.prefetchPlaces({ runId: s.runId, placeIds });
  } catch (err) {
    // The batch could not be read even after retries: each place is a recorded failure.
    const reason = `prefetch failed: ${errorMessage(err)}`;
    for (const placeId of placeIds) await io.recordPlaceFailure({ runId: s.runId, placeId, reason });
    progress.failed += placeIds.length;
    return;
  }
  progress.failed += batch.failed.length;
  await Promise.all(
    batch.places.map(async (place) => {
      try {
        const enrichment = await llmFor(place.placeId).enrichPlace({
          runId: s.runId,
          place,
          noCache: s.noCache,
        });
        await io.savePlaceEnrichment({ runId: s.runId, placeId: place.placeId, enrichment });
        progress.done++;
      } catch (err) {
        if (breaker.trip(err)) return;
        // Invalid answer after repairs, a 400/404, retries exhausted: this place only.
        await io.recordPlaceFailure({ runId: s.runId, placeId: place.placeId, reason: errorMessage(err) });
        progress.failed++;
      }
    }),
  );
}
