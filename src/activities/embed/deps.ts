// What the embedding activities are built from (injected, so tests pass real local servers or fakes).
import type { EmbedSettings } from '../../domain/embedding';
import type { PriceTable } from '../../llm/accounting';
import type { BatchApi } from '../../llm/batch-api';
import type { ChromaStore } from '../../stores/chroma';
import type { EmbeddingStore } from '../../stores/embeddings';
import type { RunStore } from '../../stores/runs';
import type { ObjectStore } from '../../stores/s3';

/** What the pipeline needs from the vector store: src/stores/chroma.ts (ChromaStore) provides it. */
export type VectorIndex = Pick<ChromaStore, 'upsert' | 'get' | 'count' | 'page' | 'collectionName'>;

export interface EmbeddingDeps {
  embeddings: EmbeddingStore;
  objects: ObjectStore;
  batchApi: BatchApi;
  vectors: VectorIndex;
  runs: RunStore;
  settings: EmbedSettings;
  prices: PriceTable;
  /** Prefix of every S3 key the pipeline writes. */
  s3Prefix: string;
}

/** Item updates in flight at once inside one activity (DynamoDB conditional writes). */
export const ITEM_UPDATE_CONCURRENCY = 16;
