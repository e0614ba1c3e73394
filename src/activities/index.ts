// Activity factories: clients are injected so tests can pass real local servers or fakes.
import { createEvaluationActivities, type EvaluationDeps } from './evaluation';
import { createLlmActivities } from './llm';
import type { LlmClient } from '../llm/llm-client';

export type PipelineActivities = ReturnType<typeof createEvaluationActivities>;
export type LlmActivities = ReturnType<typeof createLlmActivities>;
export type Activities = PipelineActivities & LlmActivities;

/** Activities of the `pipeline` queue (DynamoDB, S3, Chroma I/O). */
export function createPipelineActivities(deps: EvaluationDeps): PipelineActivities {
  return { ...createEvaluationActivities(deps) };
}

/** Activities of the `llm` queue (every LLM call). */
export function createLlmQueueActivities(deps: { llm: LlmClient }): LlmActivities {
  return { ...createLlmActivities(deps) };
}
