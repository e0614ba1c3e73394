// Places (gyms) and their reviews in the single table: a place's META item and its REVIEW items
// share the partition `PLACE#<id>`, so one Query reads a place whole (docs/DATA_MODEL.md).
import type { Place, PlaceEnrichment, PlaceReview } from '../domain/places';
import type { ReceiptStore } from './receipts';
import { boundStrings, boundText, MAX_PROVIDER_TEXT } from '../domain/bounded-text';
import { validId } from '../domain/ids';

/** Partition of a place (META and reviews); the id is validated. */
const placePartition = (placeId: string) => `PLACE#${validId('place id', placeId)}`;

export type PlaceStatus = 'PENDING' | 'ENRICHED' | 'FAILED';

/** A place's META item: the place without its reviews (they are items of their own), and its state. */
export interface PlaceMeta extends Omit<Place, 'reviews'> {
  reviewCount: number;
  status: PlaceStatus;
  /** Why the last enrichment failed (FAILED), or why a refresh of an ENRICHED place failed. */
  reason?: string;
  enrichment?: PlaceEnrichment;
  enrichedAt?: number;
  enrichedByRun?: string;
  pendingAt?: number;
  pendingRun?: string;
}

export const placeKeys = {
  meta: (placeId: string) => ({ PK: placePartition(placeId), SK: 'META' }),
  review: (placeId: string, reviewIndex: number) => ({
    PK: placePartition(placeId),
    SK: `REVIEW#${String(reviewIndex).padStart(3, '0')}`,
  }),
};

/** Queries of one place run at once when reading a batch (DynamoDB has no multi-partition Query). */
const READ_CONCURRENCY = 25;

export class PlaceStore {
  constructor(private readonly store: ReceiptStore) {}

  /** Writes places with their reviews as PENDING (seeding resets a place's enrichment). */
  async putPlaces(places: Place[]): Promise<void> {
    const items: Record<string, unknown>[] = [];
    for (const p of places) {
      items.push({
        ...placeKeys.meta(p.placeId),
        type: 'PLACE',
        GSI1PK: 'PLACES',
        GSI1SK: p.placeId,
        placeId: p.placeId,
        name: p.name,
        address: p.address,
        city: p.city,
        phone: p.phone,
        hoursText: p.hoursText,
        reviewCount: p.reviews.length,
        status: 'PENDING',
      });
      for (const r of p.reviews) items.push(this.reviewItem(p.placeId, r));
    }
    await this.store.batchPut(items);
  }

  /** Writes one review record as given (tests use it to plant a bad one). */
  async putReview(placeId: string, review: Partial<PlaceReview> & { reviewIndex: number }): Promise<void> {
    await this.store.put(this.reviewItem(placeId, review));
  }

  private reviewItem(placeId: string, r: Partial<PlaceReview> & { reviewIndex: number }) {
    return { ...placeKeys.review(placeId, r.reviewIndex), type: 'REVIEW', placeId, ...r };
  }

  /** Every place id, in id order (GSI1, paginated). */
  async listPlaceIds(): Promise<string[]> {
    const items = await this.store.queryAll({
      IndexName: 'GSI1',
      KeyConditionExpression: 'GSI1PK = :pk',
      ExpressionAttributeValues: { ':pk': 'PLACES' },
      ProjectionExpression: 'placeId',
    });
    return items.map((i) => String(i.placeId)).sort();
  }

  /** Up to `limit` place ids after `after` (every one when undefined), in id order (GSI1). */
  async listPlaceIdsAfter(after: string | undefined, limit: number): Promise<string[]> {
    if (limit <= 0) return [];
    const items = await this.store.queryUpTo(
      {
        IndexName: 'GSI1',
        KeyConditionExpression: after === undefined ? 'GSI1PK = :pk' : 'GSI1PK = :pk AND GSI1SK > :after',
        ExpressionAttributeValues: { ':pk': 'PLACES', ...(after === undefined ? {} : { ':after': after }) },
        ProjectionExpression: 'placeId',
      },
      limit,
    );
    return items.map((i) => String(i.placeId));
  }

  /** How many places there are (GSI1, counted, not read; the first page of a run asks). */
  countPlaces(): Promise<number> {
    return this.store.queryCount({
      IndexName: 'GSI1',
      KeyConditionExpression: 'GSI1PK = :pk',
      ExpressionAttributeValues: { ':pk': 'PLACES' },
    });
  }

  async getMeta(placeId: string): Promise<PlaceMeta | undefined> {
    return (await this.store.get(placeKeys.meta(placeId))) as PlaceMeta | undefined;
  }

  /**
   * Reads many places with their reviews: one Query per place partition (META + REVIEW items
   * together), run concurrently, so a batch costs one round trip of wall time and one query per
   * place instead of the seed's one per place per prompt. Missing places map to undefined.
   */
  async readPlaces(
    placeIds: readonly string[],
  ): Promise<Map<string, { meta: PlaceMeta; reviews: PlaceReview[] } | undefined>> {
    const out = new Map<string, { meta: PlaceMeta; reviews: PlaceReview[] } | undefined>();
    for (let i = 0; i < placeIds.length; i += READ_CONCURRENCY) {
      const slice = placeIds.slice(i, i + READ_CONCURRENCY);
      const read = await Promise.all(
        slice.map((id) =>
          this.store.queryAll({
            KeyConditionExpression: 'PK = :pk',
            ExpressionAttributeValues: { ':pk': placePartition(id) },
          }),
        ),
      );
      slice.forEach((id, k) => {
        const items = read[k] ?? [];
        const meta = items.find((x) => x.SK === 'META') as PlaceMeta | undefined;
        if (!meta) return out.set(id, undefined);
        const reviews = items
          .filter((x) => x.type === 'REVIEW')
          .map((x) => ({
            reviewIndex: Number(x.reviewIndex),
            author: x.author as string,
            rating: x.rating as number,
            text: x.text as string,
          }))
          .sort((a, b) => a.reviewIndex - b.reviewIndex);
        out.set(id, { meta, reviews });
      });
    }
    return out;
  }

  /**
   * Marks a place PENDING for a run before any LLM call (the base data is saved first); a place
   * already ENRICHED keeps its status and enrichment until a refresh replaces them.
   */
  async markPending(placeId: string, runId: string, now = Date.now()): Promise<void> {
    await this.update(
      placeId,
      'SET #s = :pending, pendingRun = :run, pendingAt = :now',
      'attribute_exists(PK) AND (attribute_not_exists(#s) OR #s <> :enriched)',
      { ':pending': 'PENDING', ':run': runId, ':now': now, ':enriched': 'ENRICHED' },
    );
  }

  /** Saves one place's enrichment on its own (partial results survive the run). */
  async saveEnrichment(placeId: string, runId: string, enrichment: PlaceEnrichment, now = Date.now()) {
    await this.update(
      placeId,
      'SET #s = :enriched, enrichment = :e, enrichedAt = :now, enrichedByRun = :run REMOVE reason',
      'attribute_exists(PK)',
      // The enrichment is provider text (description, hours, amenities): bounded before it is stored.
      {
        ':enriched': 'ENRICHED',
        ':e': boundStrings(enrichment, MAX_PROVIDER_TEXT),
        ':now': now,
        ':run': runId,
      },
    );
  }

  /**
   * Records why a place's enrichment failed: FAILED with the reason, unless an earlier run enriched
   * it, in which case the old enrichment stays and the reason is kept next to it.
   */
  async markFailed(placeId: string, runId: string, fullReason: string, now = Date.now()): Promise<void> {
    const reason = boundText(fullReason, MAX_PROVIDER_TEXT);
    const applied = await this.update(
      placeId,
      'SET #s = :failed, reason = :r, failedAt = :now, failedByRun = :run',
      'attribute_exists(PK) AND (attribute_not_exists(#s) OR #s <> :enriched)',
      { ':failed': 'FAILED', ':r': reason, ':now': now, ':run': runId, ':enriched': 'ENRICHED' },
    );
    if (!applied)
      await this.update(
        placeId,
        'SET reason = :r, failedAt = :now, failedByRun = :run',
        'attribute_exists(PK)',
        {
          ':r': reason,
          ':now': now,
          ':run': runId,
        },
      );
  }

  private update(placeId: string, expression: string, condition: string, values: Record<string, unknown>) {
    const usesStatus = expression.includes('#s') || condition.includes('#s');
    return this.store.updateIf(
      placeKeys.meta(placeId),
      expression,
      condition,
      values,
      usesStatus ? { '#s': 'status' } : undefined,
    );
  }
}
