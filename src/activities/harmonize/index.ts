// The label harmonizer's activities (seed 001), one factory per step spread together: on the
// pipeline queue, load a (label, merchant) group, keep its vectors in Chroma current, look up
// neighbours, apply the skip rules and the decision cache, save per-word results, build the report;
// on the `llm` queue, embed and decide batches. Word lists move between activities as files in S3
// (one prefix per group, s3-keys.ts), so workflow history only carries counts.
import { createDecideActivities } from './decide';
import type { HarmonizationDeps } from './deps';
import { createEmbedActivities } from './embed';
import { createEmbedUpsertActivities } from './embed-upsert';
import type { HarmonizationLlmDeps } from './llm-deps';
import { createNeighbourActivities } from './neighbours';
import { createPlanActivities } from './plan';
import { createPrepareActivities } from './prepare';
import { createReportActivities } from './report';
import { createSaveActivities } from './save';
import { createValidateActivities } from './validate';

export type { HarmonizationDeps } from './deps';
export type { HarmonizationLlmDeps } from './llm-deps';
export type * from './types';
export { harmonizeReportOf, type HarmonizeReport } from './report';

/** Pipeline-queue activities of the harmonizer (DynamoDB, Chroma, S3). */
export function createHarmonizationActivities(deps: HarmonizationDeps) {
  return {
    ...createValidateActivities(),
    ...createPrepareActivities(deps),
    ...createEmbedUpsertActivities(deps),
    ...createNeighbourActivities(deps),
    ...createPlanActivities(deps),
    ...createSaveActivities(deps),
    ...createReportActivities(deps),
  };
}

/** `llm`-queue activities of the harmonizer: each one call through the shared LlmClient. */
export function createHarmonizationLlmActivities(deps: HarmonizationLlmDeps) {
  return {
    ...createEmbedActivities(deps),
    ...createDecideActivities(deps),
  };
}
