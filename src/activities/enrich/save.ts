// Each place's outcome saved as soon as it is known: its enrichment (partial results survive), or
// the reason its LLM call failed for good.
import type { PlaceEnrichment } from '../../domain/places';
import { PlaceStore } from '../../stores/places';
import { recordPlaceFailed } from './place-failure';
import type { EnrichmentDeps } from './types';

export function createSaveActivities({ receipts, runs }: EnrichmentDeps) {
  const places = new PlaceStore(receipts);
  return {
    /** Saves one place's enrichment as soon as its answer is in (partial results survive). */
    async savePlaceEnrichment(input: { runId: string; placeId: string; enrichment: PlaceEnrichment }) {
      await places.saveEnrichment(input.placeId, input.runId, input.enrichment);
      await runs.putResult({
        runId: input.runId,
        itemId: input.placeId,
        status: 'SUCCEEDED',
        detail: {
          placeId: input.placeId,
          amenities: input.enrichment.amenities,
          hasWomenOnlyHours: input.enrichment.hasWomenOnlyHours,
        },
        attempt: 1,
        at: Date.now(),
      });
    },

    /** A place whose LLM call failed for good (invalid answer after repairs, 4xx, retries spent). */
    async recordPlaceFailure(input: { runId: string; placeId: string; reason: string }) {
      await recordPlaceFailed(places, runs, input);
    },
  };
}
