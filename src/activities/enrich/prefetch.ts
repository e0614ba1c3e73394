// The places of a run, and each batch's one batched read: base data saved PENDING before any LLM
// call; a place missing or malformed is recorded FAILED here and never reaches the LLM.
import { validatePlace } from '../../domain/places';
import { PlaceStore } from '../../stores/places';
import { ALL_ITEMS_GROUP } from '../redrive';
import { recordPlaceFailed } from './place-failure';
import type { EnrichmentDeps, PrefetchedBatch } from './types';

/** Input order, whatever order the writes finished in: the workflow relies on determinism. */
function inInputOrder(out: PrefetchedBatch, placeIds: string[]): PrefetchedBatch {
  const order = new Map(placeIds.map((id, i) => [id, i]));
  out.places.sort((a, b) => order.get(a.placeId)! - order.get(b.placeId)!);
  out.failed.sort((a, b) => order.get(a.placeId)! - order.get(b.placeId)!);
  return out;
}

export function createPrefetchActivities({ receipts, runs }: EnrichmentDeps) {
  const places = new PlaceStore(receipts);
  return {
    /** The places of a run, in id order: those asked for (deduplicated) or every place. */
    async listPlaceIds(input: { placeIds?: string[]; redriveRunId?: string }): Promise<string[]> {
      if (input.redriveRunId)
        return (await runs.getRedrivePlan(input.redriveRunId, ALL_ITEMS_GROUP)).get(ALL_ITEMS_GROUP) ?? [];
      if (input.placeIds?.length) return [...new Set(input.placeIds)];
      return places.listPlaceIds();
    },

    /**
     * One batched read for a batch of places (one Query per place partition, all at once) and the
     * base data saved (PENDING) before any LLM call. A place that is missing or malformed is
     * recorded FAILED here, with its reason, and never reaches the LLM.
     */
    async prefetchPlaces(input: { runId: string; placeIds: string[] }): Promise<PrefetchedBatch> {
      const read = await places.readPlaces(input.placeIds);
      const out: PrefetchedBatch = { places: [], failed: [] };
      await Promise.all(
        input.placeIds.map(async (placeId) => {
          const data = read.get(placeId);
          const problems = validatePlace(data && { ...data.meta, reviews: data.reviews });
          if (problems.length) {
            const reason = data
              ? `InvalidPlace: ${problems.join('; ')}`
              : `PlaceNotFound: no place ${placeId}`;
            await recordPlaceFailed(places, runs, {
              runId: input.runId,
              placeId,
              reason,
              exists: data !== undefined,
            });
            out.failed.push({ placeId, reason });
            return;
          }
          await places.markPending(placeId, input.runId);
          const { name, address, hoursText } = data!.meta;
          out.places.push({ placeId, name, address, hoursText, reviews: data!.reviews });
        }),
      );
      return inInputOrder(out, input.placeIds);
    },
  };
}
