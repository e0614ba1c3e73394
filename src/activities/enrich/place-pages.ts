// The places of an enrichment run, page by page after a cursor (the last place id listed), so the
// list never travels in workflow history: from the data, from the ids the run was asked for (kept in
// its run record), or from a redrive's plan.
import { PlaceStore } from '../../stores/places';
import { ALL_ITEMS_GROUP } from '../redrive';
import type { EnrichmentDeps } from './types';

export interface PlaceIdPage {
  /** Place ids after the cursor, in id order. */
  placeIds: string[];
  /** The run's place count (when asked for: the first page). */
  total?: number;
}

export interface PlaceIdPageInput {
  runId: string;
  /** The run is a redrive: its places come from its plan. */
  redrive?: boolean;
  /** The last place id listed before (none: from the first). */
  after?: string;
  limit: number;
  withTotal?: boolean;
}

/** Up to `limit` ids of a sorted list after `after`, with the list's length when asked. */
function pageOf(sorted: readonly string[], input: PlaceIdPageInput): PlaceIdPage {
  const rest = input.after === undefined ? sorted : sorted.filter((id) => id > input.after!);
  return { placeIds: rest.slice(0, input.limit), ...(input.withTotal ? { total: sorted.length } : {}) };
}

export function createPlacePageActivities({ receipts, runs }: EnrichmentDeps) {
  const places = new PlaceStore(receipts);

  /** The run's own list, when it has one: a redrive's plan, or the place ids it was started with. */
  async function listedPlaces(input: PlaceIdPageInput): Promise<string[] | undefined> {
    if (input.redrive)
      return (await runs.getRedrivePlan(input.runId, ALL_ITEMS_GROUP)).get(ALL_ITEMS_GROUP) ?? [];
    const asked = (await runs.getRun(input.runId))?.params?.placeIds as string[] | undefined;
    return asked?.length ? [...new Set(asked)] : undefined;
  }

  return {
    /** Up to `limit` place ids of a run after `after`, in id order (its total on the first page). */
    async listPlaceIdPage(input: PlaceIdPageInput): Promise<PlaceIdPage> {
      const listed = await listedPlaces(input);
      if (listed) return pageOf([...listed].sort(), input);
      const [placeIds, total] = await Promise.all([
        places.listPlaceIdsAfter(input.after, input.limit),
        input.withTotal ? places.countPlaces() : undefined,
      ]);
      return { placeIds, ...(total !== undefined ? { total } : {}) };
    },
  };
}
