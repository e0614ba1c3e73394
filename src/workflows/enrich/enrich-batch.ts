// One batch of places: one prefetch (one batched read, base data saved PENDING before any LLM
// call), then one combined LLM call per place, each place saved on its own.
import type { RunProgress } from '../shared';
import { errorMessage, llmProxyFor, type LlmProxy } from '../shared';
import type { RunBreaker } from '../run-breaker';
import { io } from './proxies';
import type { EnrichSettings } from './settings';

/** The `llm`-queue proxy of one place, by its stable activity id. */
export type PlaceLlm = (placeId: string) => LlmProxy;

/**
 * One LLM activity per place, its id the place's: unique across continue-as-new runs of this
 * workflow id, so call records (keyed by workflow id + activity id + attempt) never collide.
 */
export function placeLlm(s: EnrichSettings): PlaceLlm {
  const llmFor = llmProxyFor(s.runId, s.priority, s.llmTaskQueue);
  return (placeId) => llmFor(`enrich/${placeId}`);
}

export async function enrichBatch(
  s: EnrichSettings,
  llmFor: PlaceLlm,
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
