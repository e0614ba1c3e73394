// Activity factories: clients are injected so tests can pass real local servers or fakes.
import { createEvaluateActivities, createEvaluateLlmActivities, type EvaluationDeps } from './evaluate';
import { createRunRecordActivities } from './shared/run-records';
import {
  createHarmonizationActivities,
  createHarmonizationLlmActivities,
  type HarmonizationDeps,
} from './harmonize';
import type { ObjectStore } from '../stores/s3';
import { createEnrichmentActivities, createEnrichmentLlmActivities } from './enrich';
import { createQualityActivities, createQualityLlmActivities, type QualityDeps } from './analyze';
import type { LlmClient } from '../llm/llm-client';
import { ProviderBreaker, withProviderBreaker } from '../llm/breaker';
import { createEmbedActivities, type EmbeddingDeps } from './embed';
import { createRedriveActivities } from './redrive';
import { createBatchModeActivities, type BatchModeDeps } from './batch-mode';

export type PipelineActivities = ReturnType<typeof createRunRecordActivities> &
  ReturnType<typeof createEvaluateActivities> &
  ReturnType<typeof createEnrichmentActivities> &
  ReturnType<typeof createQualityActivities> &
  ReturnType<typeof createHarmonizationActivities> &
  ReturnType<typeof createEmbedActivities> &
  ReturnType<typeof createRedriveActivities> &
  ReturnType<typeof createBatchModeActivities>;
export type LlmActivities = ReturnType<typeof createEvaluateLlmActivities> &
  ReturnType<typeof createEnrichmentLlmActivities> &
  ReturnType<typeof createQualityLlmActivities> &
  ReturnType<typeof createHarmonizationLlmActivities>;
export type Activities = PipelineActivities & LlmActivities;

/** Activities of the `pipeline` queue (DynamoDB, S3, Chroma I/O). */
export function createPipelineActivities(
  deps: EvaluationDeps &
    Pick<QualityDeps, 's3' | 's3Bucket'> &
    HarmonizationDeps & { embedding: EmbeddingDeps; batchMode: BatchModeDeps },
): PipelineActivities {
  return {
    ...createRunRecordActivities(deps),
    ...createEvaluateActivities(deps),
    ...createEnrichmentActivities(deps),
    ...createQualityActivities(deps),
    ...createHarmonizationActivities(deps),
    ...createEmbedActivities(deps.embedding),
    ...createRedriveActivities(deps),
    ...createBatchModeActivities(deps.batchMode),
  };
}

/**
 * Activities of the `llm` queue (every LLM call), all behind one provider breaker: a run refused
 * for its credentials sends nothing more from this process.
 */
export function createLlmQueueActivities(
  deps: Pick<EvaluationDeps, 'receipts' | 'runs'> & {
    llm: LlmClient;
    objects: ObjectStore;
    breaker?: ProviderBreaker;
  },
): LlmActivities {
  const llm = withProviderBreaker(deps.llm, deps.breaker ?? new ProviderBreaker());
  return {
    ...createEvaluateLlmActivities({ llm, receipts: deps.receipts, runs: deps.runs }),
    ...createEnrichmentLlmActivities({ llm }),
    ...createQualityLlmActivities({ llm }),
    ...createHarmonizationLlmActivities({ llm, objects: deps.objects }),
  };
}
