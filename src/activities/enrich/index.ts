// Place enrichment (seed 004), one factory per step spread together: on the pipeline queue, list
// and prefetch places, save each place's enrichment or failure, build the report; on the `llm`
// queue, `enrichPlace` (one combined JSON prompt per place).
import { createPlacePageActivities } from './place-pages';
import { createPrefetchActivities } from './prefetch';
import { createEnrichmentReportActivities } from './report';
import { createSaveActivities } from './save';
import type { EnrichmentDeps } from './types';

export type * from './types';
export type { PlaceIdPage } from './place-pages';
export { createEnrichmentLlmActivities } from './enrich-place';

/** Pipeline-queue activities of the enrichment (DynamoDB). */
export function createEnrichmentActivities(deps: EnrichmentDeps) {
  return {
    ...createPlacePageActivities(deps),
    ...createPrefetchActivities(deps),
    ...createSaveActivities(deps),
    ...createEnrichmentReportActivities(deps),
  };
}
