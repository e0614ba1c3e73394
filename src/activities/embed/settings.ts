// The embedding settings: read from config by the worker, handed to workflows by a local activity.
import type { AppConfig } from '../../config';
import { DEFAULT_EMBED_SETTINGS, type EmbedSettings } from '../../domain/embedding';
import type { EmbeddingDeps } from './deps';

export function embedSettingsFromConfig(cfg: AppConfig): EmbedSettings {
  return {
    ...DEFAULT_EMBED_SETTINGS,
    model:
      cfg.EMBED_MODEL ?? (cfg.llmProvider === 'openai' ? cfg.embeddingModel : DEFAULT_EMBED_SETTINGS.model),
    maxRequestsPerBatch: cfg.EMBED_BATCH_MAX_REQUESTS,
    maxBytesPerBatch: cfg.EMBED_BATCH_MAX_BYTES,
    pollInitialMs: cfg.EMBED_POLL_INITIAL_MS,
    pollMaxMs: Math.max(cfg.EMBED_POLL_MAX_MS, cfg.EMBED_POLL_INITIAL_MS),
    pollBackoff: cfg.EMBED_POLL_BACKOFF,
    pollsPerRun: cfg.EMBED_POLLS_PER_RUN,
    maxAttempts: cfg.EMBED_MAX_ATTEMPTS,
    maxRounds: cfg.EMBED_MAX_ROUNDS,
    reconcileMs: cfg.EMBED_RECONCILE_MS,
    compactorId: cfg.EMBED_COMPACTOR_ID,
    compactChunkSize: cfg.EMBED_COMPACT_CHUNK_SIZE,
    deltaPartRecords: cfg.EMBED_DELTA_PART_RECORDS,
    compactIdleMs: cfg.EMBED_COMPACT_IDLE_MS,
    snapshot: cfg.EMBED_SNAPSHOT,
    deleteAppliedDeltas: cfg.EMBED_DELETE_APPLIED_DELTAS,
    heartbeatTimeoutMs: cfg.EMBED_HEARTBEAT_TIMEOUT_MS,
    dataMaxAttempts: cfg.EMBED_DATA_MAX_ATTEMPTS,
  };
}

export function createEmbedSettingsActivities(deps: Pick<EmbeddingDeps, 'settings'>) {
  return {
    /** The worker's embedding settings, recorded in history by a local activity. */
    async embeddingSettings(): Promise<EmbedSettings> {
      return deps.settings;
    },
  };
}
