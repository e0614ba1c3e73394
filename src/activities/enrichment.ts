// Place enrichment (seed 004): pipeline-queue activities (prefetch a batch of places with their
// reviews, save each place's enrichment or failure, build the report) and the one `llm`-queue
// activity, `enrichPlace`: one combined JSON prompt per place.
import { ApplicationFailure, Context } from '@temporalio/activity';
import { answerJsonSchema } from '../domain/llm-tasks';
import {
  placeEnrichmentMessages,
  placeEnrichmentSchemaFor,
  type PlaceForPrompt,
} from '../domain/place-prompts';
import { validatePlace, type PlaceEnrichment } from '../domain/places';
import { summarizeCalls } from '../llm/accounting';
import { toActivityFailure } from '../llm/errors';
import { ALL_ITEMS_GROUP } from './redrive';
import type { LlmClient } from '../llm/llm-client';
import { PlaceStore } from '../stores/places';
import type { ReceiptStore } from '../stores/receipts';
import type { RunStore } from '../stores/runs';
import { readTruth } from '../stores/truth';
import { llmCallIds } from './llm-call-ids';

export interface EnrichmentDeps {
  receipts: ReceiptStore;
  runs: RunStore;
  truthFile: string;
}

export interface PrefetchedBatch {
  /** Places ready for their LLM call, marked PENDING. */
  places: PlaceForPrompt[];
  /** Places that cannot be enriched (missing, bad records), already recorded FAILED. */
  failed: Array<{ placeId: string; reason: string }>;
}

export interface EnrichmentReport {
  runId: string;
  pipeline: 'enrich';
  status: string;
  total: number;
  succeeded: number;
  failed: number;
  placesEnriched: number;
  placesFailed: number;
  /** LLM calls (provider calls, cache hits excluded) per place of the run. */
  llmCallsPerPlace: number;
  promptTokensPerPlace: number;
  failures: Array<{ itemId: string; reason: string }>;
  /** Against the seeded truth, when known: exact answers per field. */
  accuracy?: { womenOnlyHours: number; amenities: number; judged: number };
  llm: ReturnType<typeof summarizeCalls>;
  makespanMs: number;
}

export function createEnrichmentActivities({ receipts, runs, truthFile }: EnrichmentDeps) {
  const places = new PlaceStore(receipts);

  const recordFailure = async (runId: string, placeId: string, reason: string, exists = true) => {
    if (exists) await places.markFailed(placeId, runId, reason);
    await runs.putResult({
      runId,
      itemId: placeId,
      status: 'FAILED',
      reason,
      detail: { placeId },
      attempt: 1,
      at: Date.now(),
    });
  };

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
            await recordFailure(input.runId, placeId, reason, data !== undefined);
            out.failed.push({ placeId, reason });
            return;
          }
          await places.markPending(placeId, input.runId);
          out.places.push({
            placeId,
            name: data!.meta.name,
            address: data!.meta.address,
            hoursText: data!.meta.hoursText,
            reviews: data!.reviews,
          });
        }),
      );
      // Input order, whatever order the writes finished in: the workflow relies on determinism.
      const order = new Map(input.placeIds.map((id, i) => [id, i]));
      out.places.sort((a, b) => order.get(a.placeId)! - order.get(b.placeId)!);
      out.failed.sort((a, b) => order.get(a.placeId)! - order.get(b.placeId)!);
      return out;
    },

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
      await recordFailure(input.runId, input.placeId, input.reason);
    },

    async buildEnrichmentReport(input: {
      runId: string;
      status: string;
      makespanMs: number;
    }): Promise<EnrichmentReport> {
      const [results, calls, truth] = await Promise.all([
        runs.listResults(input.runId),
        runs.listCalls(input.runId),
        readTruth(truthFile),
      ]);
      const llm = summarizeCalls(calls);
      const succeeded = results.filter((r) => r.status === 'SUCCEEDED');
      const failed = results.filter((r) => r.status === 'FAILED');
      const perPlace = (n: number) => (results.length ? Math.round((n / results.length) * 100) / 100 : 0);
      const report: EnrichmentReport = {
        runId: input.runId,
        pipeline: 'enrich',
        status: input.status,
        total: results.length,
        succeeded: succeeded.length,
        failed: failed.length,
        placesEnriched: succeeded.length,
        placesFailed: failed.length,
        llmCallsPerPlace: perPlace(llm.calls),
        promptTokensPerPlace: perPlace(llm.promptTokens),
        failures: failed.slice(0, 20).map((r) => ({ itemId: r.itemId, reason: r.reason ?? 'unknown' })),
        llm,
        makespanMs: input.makespanMs,
      };
      const known = truth?.places ?? {};
      const judged = succeeded.filter((r) => known[r.itemId]);
      if (judged.length) {
        const detail = (r: (typeof judged)[number]) =>
          r.detail as { amenities: string[]; hasWomenOnlyHours: boolean };
        const sameSet = (a: string[], b: string[]) =>
          a.length === b.length && a.every((x) => b.map((y) => y.toLowerCase()).includes(x.toLowerCase()));
        report.accuracy = {
          womenOnlyHours: ratio(
            judged.filter((r) => detail(r).hasWomenOnlyHours === known[r.itemId]!.hasWomenOnlyHours).length,
            judged.length,
          ),
          amenities: ratio(
            judged.filter((r) => sameSet(detail(r).amenities, known[r.itemId]!.amenities)).length,
            judged.length,
          ),
          judged: judged.length,
        };
      }
      await runs.finishRun(
        input.runId,
        report as unknown as Record<string, unknown>,
        input.status === 'COMPLETED' ? 'COMPLETED' : 'FAILED',
      );
      return report;
    },
  };
}

export interface EnrichPlaceInput {
  runId: string;
  place: PlaceForPrompt;
  noCache?: boolean;
}

export function createEnrichmentLlmActivities({ llm }: { llm: LlmClient }) {
  return {
    /** One combined structured call per place, validated with zod (repaired when invalid). */
    async enrichPlace(input: EnrichPlaceInput): Promise<PlaceEnrichment> {
      const ctx = Context.current();
      if (!input.place.reviews.length)
        throw ApplicationFailure.nonRetryable(`Place ${input.place.placeId} has no reviews`, 'InvalidInput');
      try {
        const { value } = await llm.structured({
          runId: input.runId,
          ...llmCallIds(),
          task: 'place_enrichment',
          messages: placeEnrichmentMessages(input.place),
          schema: placeEnrichmentSchemaFor(input.place.placeId),
          jsonSchema: answerJsonSchema('place_enrichment'),
          noCache: input.noCache,
          fairnessKey: input.runId,
          signal: ctx.cancellationSignal,
          heartbeat: () => ctx.heartbeat(),
        });
        const { id: _id, ...enrichment } = value;
        return enrichment;
      } catch (err) {
        throw toActivityFailure(err, ctx.info.attempt);
      }
    },
  };
}

function ratio(n: number, d: number): number {
  return Math.round((n / d) * 1000) / 1000;
}
