// The clients the harmonizer's `llm`-queue activities are built with.
import type { LlmClient } from '../../llm/llm-client';
import type { ObjectStore } from '../../stores/s3';

export interface HarmonizationLlmDeps {
  llm: LlmClient;
  objects: ObjectStore;
}
