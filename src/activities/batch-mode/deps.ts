// What the batch-mode activities are built from: the stores, the Batch API, the LLM cache (the answers'
// way to the realtime path), the call records (the run's cost), and the key's provider and model.
import type { EmbedSettings } from '../../domain/embedding';
import type { BatchApi } from '../../llm/batch-api';
import type { LlmCache } from '../../llm/cache';
import type { CallRecorder } from '../../llm/call-records';
import type { LlmBatchJobStore } from '../../stores/llm-batch-jobs';
import type { ReceiptStore } from '../../stores/receipts';
import type { RunStore } from '../../stores/runs';
import type { ObjectStore } from '../../stores/s3';

/** How batch jobs are polled: the embedding pipeline's cadence (EMBED_POLL_*), the same Batch API. */
export type BatchPollSettings = Pick<
  EmbedSettings,
  'pollInitialMs' | 'pollMaxMs' | 'pollBackoff' | 'pollsPerRun' | 'pollGiveUpMs' | 'heartbeatTimeoutMs'
> &
  Pick<EmbedSettings, 'dataMaxAttempts'>;

export interface BatchModeDeps {
  receipts: ReceiptStore;
  runs: RunStore;
  jobs: LlmBatchJobStore;
  objects: ObjectStore;
  batchApi: BatchApi;
  cache: LlmCache;
  recorder: CallRecorder;
  /** The realtime provider: batch mode needs `openai` (the cache key names it). */
  provider: 'openai' | 'ollama';
  model: string;
  /** Requests per batch job (OpenAI allows 50,000). */
  maxRequestsPerJob: number;
  /** Prefix of the S3 keys of the request files. */
  s3Prefix: string;
}

/** Cache reads and writes in flight at once inside one activity. */
export const BATCH_MODE_IO_CONCURRENCY = 16;
