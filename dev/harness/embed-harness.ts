// The environment of an embedding harness (tests, the fault bench, saved histories): the emulator's
// Batch API, own Chroma collections, S3 prefix and compactor, and polls, heartbeats and reconciles
// of seconds instead of the production minutes.

export interface EmbedHarnessEnvOptions {
  /** Port of the harness's emulator (its OpenAI Batch API). */
  port: number;
  /** Unique tag of the harness: its Chroma collection prefix, S3 prefix and compactor id. */
  tag: string;
  /** Where the workers reach the OpenAI API (a fault proxy in front of the emulator). @default the emulator */
  openaiBaseUrl?: string;
  /** EMBED_BATCH_MAX_REQUESTS: requests per batch. @default the config's (one batch per kind) */
  maxRequestsPerBatch?: number;
  /** EMBED_RECONCILE_MS: how often a waiting backfill looks at its pollers. @default 5000 */
  reconcileMs?: number;
}

/** The env of an embedding harness whose batches and compactions settle in seconds. */
export function embedHarnessEnv(opts: EmbedHarnessEnvOptions): Record<string, string> {
  return {
    OPENAI_BASE_URL: opts.openaiBaseUrl ?? `http://127.0.0.1:${opts.port}/v1`,
    CHROMA_COLLECTION_PREFIX: `${opts.tag}-`,
    EMBED_S3_PREFIX: `${opts.tag}/`,
    EMBED_COMPACTOR_ID: `embed-compactor-${opts.tag}`,
    ...(opts.maxRequestsPerBatch !== undefined
      ? { EMBED_BATCH_MAX_REQUESTS: String(opts.maxRequestsPerBatch) }
      : {}),
    EMBED_POLL_INITIAL_MS: '200',
    EMBED_POLL_MAX_MS: '500',
    EMBED_COMPACT_IDLE_MS: '500',
    EMBED_HEARTBEAT_TIMEOUT_MS: '3000',
    EMBED_RECONCILE_MS: String(opts.reconcileMs ?? 5000),
  };
}
