// `llm` queue: one combined structured call per place (`place_enrichment`), validated with zod
// (repaired when invalid).
import { ApplicationFailure } from '@temporalio/activity';
import { answerJsonSchema } from '../../domain/llm-tasks';
import { placeEnrichmentMessages, placeEnrichmentSchemaFor } from '../../domain/place-prompts';
import type { PlaceEnrichment } from '../../domain/places';
import type { LlmClient } from '../../llm/llm-client';
import { activityLlmCall } from '../shared/activity-llm-call';
import type { EnrichPlaceInput } from './types';

export function createEnrichmentLlmActivities({ llm }: { llm: LlmClient }) {
  return {
    /** One combined structured call per place, validated with zod (repaired when invalid). */
    async enrichPlace(input: EnrichPlaceInput): Promise<PlaceEnrichment> {
      if (!input.place.reviews.length)
        throw ApplicationFailure.nonRetryable(
          `Place ${input.place.placeId} has no reviews: nothing to enrich it from (add reviews, or leave it out of the run)`,
          'InvalidInput',
        );
      const { id: _id, ...enrichment } = await activityLlmCall(llm, {
        runId: input.runId,
        task: 'place_enrichment',
        messages: placeEnrichmentMessages(input.place),
        schema: placeEnrichmentSchemaFor(input.place.placeId),
        jsonSchema: answerJsonSchema('place_enrichment'),
        noCache: input.noCache,
        fairnessKey: input.runId,
      });
      return enrichment;
    },
  };
}
