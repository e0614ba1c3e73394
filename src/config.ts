// Every setting of the application, read from the environment and validated once at start-up.
import path from 'node:path';
import { z } from 'zod';
import {
  DEFAULT_DECISION_BATCH_SIZE,
  DEFAULT_EMBED_BATCH_SIZE,
  DEFAULT_SKIP_RULES,
} from './domain/harmonization';

const port = z.coerce.number().int().min(1).max(65535);
const optionalUrl = z.url().optional();
const optionalPositive = z.coerce.number().positive().optional();
const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

/** Schema of every environment variable we read; README's configuration table mirrors it. */
export const envSchema = z.object({
  /** Root of persisted embedded-stack data (Temporal db, Chroma, dynalite, s3rver, truth files). */
  DATA_DIR: z.string().default('.data'),
  /** Project-local tool venv holding the `temporal` CLI and the `chroma` server. */
  TOOLS_DIR: z.string().default('.tools'),

  /** External Temporal frontend (host:port); when set, no embedded dev server is started. */
  TEMPORAL_ADDRESS: z.string().optional(),
  TEMPORAL_NAMESPACE: z.string().default('default'),
  TEMPORAL_PORT: port.default(7233),
  TEMPORAL_UI_PORT: port.default(8233),

  /** External Chroma server URL; when set, no embedded Chroma is started. */
  CHROMA_URL: optionalUrl,
  CHROMA_PORT: port.default(8100),
  /** Prefix of the Chroma collection names (`<prefix>words`, `<prefix>lines`); tests isolate with it. */
  CHROMA_COLLECTION_PREFIX: z.string().default(''),

  /** External DynamoDB endpoint (DynamoDB Local or AWS); when set, no dynalite is started. */
  DYNAMODB_ENDPOINT: optionalUrl,
  DYNAMODB_PORT: port.default(4567),
  DYNAMODB_TABLE: z.string().min(3).default('receipts'),
  /** External S3 endpoint (MinIO or AWS); when set, no s3rver is started. */
  S3_ENDPOINT: optionalUrl,
  S3_PORT: port.default(4568),
  S3_BUCKET: z.string().min(3).default('receipt-pipelines'),
  AWS_REGION: z.string().default('us-east-1'),
  /** Longest wait for a TCP connection to DynamoDB or S3 before the attempt fails (and is retried). */
  AWS_CONNECTION_TIMEOUT_MS: z.coerce.number().int().min(100).default(3000),
  /** Longest DynamoDB request (sent until answered) before the attempt fails (and is retried). */
  DYNAMODB_REQUEST_TIMEOUT_MS: z.coerce.number().int().min(1000).default(10_000),
  /** Longest S3 request (body uploaded until the answer starts): large files need more than DynamoDB. */
  S3_REQUEST_TIMEOUT_MS: z.coerce.number().int().min(1000).default(120_000),

  /** Task queue of workflows and I/O activities. */
  TASK_QUEUE_PIPELINE: z.string().min(1).default('pipeline'),
  /** Task queue of LLM activities (the globally capped one). */
  TASK_QUEUE_LLM: z.string().min(1).default('llm'),
  /** Ground truth of the seeded dataset (oracle, scoring). Default: DATA_DIR/truth.json. */
  TRUTH_FILE: z.string().optional(),

  /** Port of the LLM provider emulator started by `stack up`. */
  EMULATOR_PORT: port.default(11435),
  /** Port of the real Ollama server `stack up --ollama` starts on 127.0.0.1. */
  OLLAMA_PORT: port.default(11434),
  /** Requests that server answers at once (its own OLLAMA_NUM_PARALLEL); more wait in its queue. */
  OLLAMA_NUM_PARALLEL: z.coerce.number().int().min(1).max(64).default(2),
  /** Path of the `ollama` binary; default: the build cache of scripts/install-ollama.sh. */
  OLLAMA_BIN: z.string().optional(),
  /** Cache of scripts/install-ollama.sh (binary and model); default `~/.cache/receipt-llm-pipelines`. */
  OLLAMA_CACHE_DIR: z.string().optional(),

  /** Path of the `temporal` CLI; default: `temporal` on PATH, else the project venv, else `.tools/bin`. */
  TEMPORAL_CLI: z.string().optional(),
  /** Path of the Python `chroma` server CLI; default: the project venv (npm's `chroma` does not run here). */
  CHROMA_CLI: z.string().optional(),
  /** Web UI of an external Temporal (shown by `stack status`); the embedded UI is on TEMPORAL_UI_PORT. */
  TEMPORAL_UI_URL: optionalUrl,
  /** How long `stack up` waits for one service to answer its health check. */
  STACK_START_TIMEOUT_MS: z.coerce.number().int().min(1000).default(90_000),
  /** How long `stack down` waits after SIGTERM before it SIGKILLs a service's process group. */
  STACK_STOP_GRACE_MS: z.coerce.number().int().min(0).default(5_000),
  /**
   * The stack's dynalite keeps its tables in memory, not in DATA_DIR (nothing survives `stack down`):
   * the test suite's stack, where it costs about 30% less CPU than LevelDB on disk.
   */
  STACK_DYNAMODB_IN_MEMORY: bool.default(false),

  /** Which provider adapter the `llm` worker uses; defaults to openai when OPENAI_API_KEY is set. */
  LLM_PROVIDER: z.enum(['ollama', 'openai']).optional(),
  /** Real Ollama server; when unset the emulator's Ollama API is used. */
  OLLAMA_HOST: optionalUrl,
  /** Real OpenAI key; never logged, never put into workflow inputs. */
  OPENAI_API_KEY: z.string().optional(),
  OPENAI_BASE_URL: optionalUrl,
  LLM_MODEL: z.string().optional(),
  EMBEDDING_MODEL: z.string().optional(),

  /** Global cap on concurrent LLM calls across ALL `llm` workers of the namespace. */
  LLM_MAX_CONCURRENT_CALLS: z.coerce.number().int().min(1).max(50).default(8),
  /**
   * LLM activities one `llm` worker holds waiting for a permit, beyond the cap (default: the cap).
   * Their calls start the moment a permit frees, instead of after an activity completion and a poll.
   */
  LLM_WORKER_WAITING_CALLS: z.coerce.number().int().min(0).max(200).optional(),
  /** Server-enforced rate of LLM activity dispatch for the `llm` task queue. */
  LLM_MAX_CALLS_PER_SECOND: optionalPositive,
  /** Token budget per minute across all workers (estimated before, reconciled after each call). */
  LLM_MAX_TOKENS_PER_MINUTE: optionalPositive,
  /**
   * Lease of a global-cap permit; a dead worker's permits come back after this. At least 10 s: a call
   * whose lease cannot be renewed in time is aborted, and a shorter lease would abort calls on any
   * DynamoDB hiccup (renewals go every third of it).
   */
  LLM_PERMIT_LEASE_MS: z.coerce
    .number()
    .int()
    .min(10_000, 'must be at least 10000 (10 s): a shorter lease aborts calls whenever one renewal is slow')
    .default(30_000),
  /**
   * Start-up of an `llm` worker overwrites the shared limiter state with its own cap: the deliberate
   * way to change LLM_MAX_CONCURRENT_CALLS (otherwise a worker with another cap than the stored one
   * is refused). Stop the other llm workers first; set it on one worker, once.
   */
  LLM_LIMITER_RESET: bool.default(false),
  /** How long a paid LLM answer is kept for retries of its call (the answer ledger). */
  LLM_ANSWER_LEDGER_TTL_S: z.coerce
    .number()
    .int()
    .min(3600)
    .default(14 * 24 * 3600),
  /** Hand a released permit straight to a waiting call of the same worker (no DynamoDB round trip). */
  LLM_PERMIT_HANDOFF: bool.default(true),
  /**
   * How the shared limit adapts below the cap: `latency` (429/503 answers and rising latency, for
   * providers that queue before they refuse), `refusal` (429/503 only), `off` (the cap, fixed).
   * `true` means latency, `false` off.
   */
  LLM_ADAPTIVE: z
    .enum(['latency', 'refusal', 'off', 'true', 'false', '1', '0'])
    .default('latency')
    .transform((v) => (v === 'true' || v === '1' ? 'latency' : v === 'false' || v === '0' ? 'off' : v)),
  /**
   * The most one provider request may take; the request is aborted then, whatever the HTTP client's
   * own timeouts. At most 290 s: Node's fetch ends a request whose headers take 300 s.
   */
  LLM_CALL_TIMEOUT_MS: z.coerce.number().int().min(1000).max(290_000).default(120_000),
  LLM_CACHE_TTL_S: z.coerce
    .number()
    .int()
    .min(0)
    .default(7 * 24 * 3600),
  /** Attempts at repairing an LLM answer that fails its schema before the chunk is a recorded failure. */
  LLM_REPAIR_ATTEMPTS: z.coerce.number().int().min(0).max(5).default(2),
  /** JSON price table: {"model": {"inputPerMTok": 0.15, "outputPerMTok": 0.6}}. */
  LLM_PRICES: z.string().optional(),

  /** Issues per label-review LLM call (the seed used 20). */
  REVIEW_CHUNK_SIZE: z.coerce.number().int().min(1).max(200).default(20),
  /** Words per outlier-decision LLM call of the label harmonizer (the seed used 10). */
  HARMONIZE_BATCH_SIZE: z.coerce.number().int().min(1).max(100).default(DEFAULT_DECISION_BATCH_SIZE),
  /** Cosine similarity at which a Chroma neighbour (same label, same merchant) counts as similar. */
  HARMONIZE_SIMILARITY: z.coerce.number().min(0).max(1).default(DEFAULT_SKIP_RULES.similarity),
  /** Similar neighbours that make a word consistent without an LLM call (the seed's 10). */
  HARMONIZE_CONSISTENT_NEIGHBOURS: z.coerce
    .number()
    .int()
    .min(1)
    .default(DEFAULT_SKIP_RULES.consistentNeighbours),
  /** Nearest-neighbour similarity below which a word is an outlier without an LLM call. */
  HARMONIZE_ISOLATED_SIMILARITY: z.coerce
    .number()
    .min(0)
    .max(1)
    .default(DEFAULT_SKIP_RULES.isolatedSimilarity),
  /** Texts per embedding call of the harmonizer. */
  HARMONIZE_EMBED_BATCH_SIZE: z.coerce.number().int().min(1).max(2048).default(DEFAULT_EMBED_BATCH_SIZE),
  /** Max concurrent activities on the `pipeline` worker (I/O only). */
  PIPELINE_MAX_CONCURRENT_ACTIVITIES: z.coerce.number().int().min(1).default(100),
  /**
   * How long a workflow task waits for the `pipeline` worker that has its workflow cached (Temporal's
   * sticky queue) before any pipeline worker may take it. A killed worker's workflows stall this long;
   * the fault tests shorten it. Unset: the SDK's default (10 s).
   */
  PIPELINE_STICKY_QUEUE_TIMEOUT_MS: z.coerce.number().int().min(1000).optional(),
  /**
   * A prebuilt workflow bundle (`npm run bundle` writes dist/workflow-bundle.js): a worker loads it
   * instead of bundling src/workflows as it starts (seconds of CPU each). Rebuild it after changing
   * workflow code. Unset: bundle at start.
   */
  WORKFLOW_BUNDLE_PATH: z.string().optional(),
  /** Port for Prometheus metrics of a worker process (0 = off). */
  METRICS_PORT: z.coerce.number().int().min(0).max(65535).default(0),
  LOG_LEVEL: z.enum(['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR']).default('INFO'),

  // ---- embedding pipeline (seed 003): OpenAI Batch API -> S3 deltas -> Chroma ----
  /**
   * Model of the embedding batch requests. Default: the OpenAI embedding model the harmonizer uses
   * (EMBEDDING_MODEL) when the provider is OpenAI, else text-embedding-3-small: one collection, one model.
   */
  EMBED_MODEL: z.string().min(1).optional(),
  /** Requests per batch input file; the API's limit (50,000) is the ceiling. */
  EMBED_BATCH_MAX_REQUESTS: z.coerce.number().int().min(1).max(50_000).default(50_000),
  /** Bytes per batch input file; the API's limit (200 MB) is the ceiling. */
  EMBED_BATCH_MAX_BYTES: z.coerce
    .number()
    .int()
    .min(1024)
    .max(200 * 1024 * 1024)
    .default(200 * 1024 * 1024),
  /** First delay between polls of a batch; doubles (EMBED_POLL_BACKOFF) up to EMBED_POLL_MAX_MS. */
  EMBED_POLL_INITIAL_MS: z.coerce.number().int().min(10).default(30_000),
  EMBED_POLL_MAX_MS: z.coerce.number().int().min(10).default(600_000),
  EMBED_POLL_BACKOFF: z.coerce.number().min(1).max(10).default(2),
  /** Polls before a poll workflow continues as new (bounds its history over a 24 h batch). */
  EMBED_POLLS_PER_RUN: z.coerce.number().int().min(1).default(100),
  /** Failed batches an item may be part of before it is FAILED with the last reason. */
  EMBED_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(20).default(3),
  /** Submission rounds of one backfill run (each resubmits what expired or failed). */
  EMBED_MAX_ROUNDS: z.coerce.number().int().min(1).max(50).default(5),
  /** How often a waiting backfill re-reads its batch records in case a poller's signal was lost. */
  EMBED_RECONCILE_MS: z.coerce.number().int().min(100).default(600_000),
  /** Workflow id of the single compactor (the id is the lock). */
  EMBED_COMPACTOR_ID: z.string().min(1).default('embed-compactor'),
  /** Records per Chroma upsert during compaction (one heartbeat each). */
  EMBED_COMPACT_CHUNK_SIZE: z.coerce.number().int().min(1).max(5000).default(500),
  /** Records per delta part file in S3 (bounds the memory of writing and applying a delta). */
  EMBED_DELTA_PART_RECORDS: z.coerce.number().int().min(1).max(50_000).default(1_000),
  /** An idle compactor waits this long for more work before it ends. */
  EMBED_COMPACT_IDLE_MS: z.coerce.number().int().min(0).default(10_000),
  /** Export the Chroma collections to S3 snapshots/ after each compaction round that applied deltas. */
  EMBED_SNAPSHOT: bool.default(false),
  /** Delete a delta's S3 object once the compactor applied it. */
  EMBED_DELETE_APPLIED_DELTAS: bool.default(false),
  /** Heartbeat timeout of the long embedding activities (how soon a dead worker's attempt is retried). */
  EMBED_HEARTBEAT_TIMEOUT_MS: z.coerce.number().int().min(1000).default(60_000),
  /** Attempts of the heavy embedding data activities (results, compaction) before a batch or delta is given up for now. */
  EMBED_DATA_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(1000).default(50),
  /** Prefix of the pipeline's S3 keys (batches/, deltas/, snapshots/). */
  EMBED_S3_PREFIX: z.string().default(''),
  /**
   * Batch mode (`--mode batch`): requests per Batch API job (the API's limit, 50,000, is the ceiling).
   * Jobs are polled at the EMBED_POLL_* cadence; their request files go under EMBED_S3_PREFIX.
   */
  LLM_BATCH_MAX_REQUESTS: z.coerce.number().int().min(1).max(50_000).default(50_000),
});

export type Env = z.infer<typeof envSchema>;

export interface AppConfig extends Env {
  dataDir: string;
  toolsDir: string;
  truthFile: string;
  temporalAddress: string;
  chromaUrl: string;
  dynamodbEndpoint: string;
  s3Endpoint: string;
  emulatorUrl: string;
  llmProvider: 'ollama' | 'openai';
  llmBaseUrl: string;
  llmModel: string;
  embeddingModel: string;
  /** True for each service that is external (its env var set) and must not be started by us. */
  external: { temporal: boolean; chroma: boolean; dynamodb: boolean; s3: boolean; llm: boolean };
}

/** Thrown when the environment does not validate; names every bad variable. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Reads and validates the environment. `env` is a parameter so tests need no global stubbing. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): AppConfig {
  const parsed = envSchema.safeParse(stripEmpty(env));
  if (!parsed.success) {
    throw new ConfigError(
      `Invalid configuration in environment variables:\n${describeConfigIssues(parsed.error.issues, env).join('\n')}\nFix or unset them (see README, Configuration).`,
    );
  }
  const e = parsed.data;
  const emulatorUrl = `http://127.0.0.1:${e.EMULATOR_PORT}`;
  const llmProvider = e.LLM_PROVIDER ?? (e.OPENAI_API_KEY ? 'openai' : 'ollama');
  const llmBaseUrl =
    llmProvider === 'openai'
      ? (e.OPENAI_BASE_URL ?? (e.OPENAI_API_KEY ? 'https://api.openai.com/v1' : `${emulatorUrl}/v1`))
      : (e.OLLAMA_HOST ?? emulatorUrl);
  return {
    ...e,
    dataDir: path.resolve(cwd, e.DATA_DIR),
    toolsDir: path.resolve(cwd, e.TOOLS_DIR),
    truthFile: path.resolve(cwd, e.TRUTH_FILE ?? path.join(e.DATA_DIR, 'truth.json')),
    temporalAddress: e.TEMPORAL_ADDRESS ?? `127.0.0.1:${e.TEMPORAL_PORT}`,
    chromaUrl: e.CHROMA_URL ?? `http://127.0.0.1:${e.CHROMA_PORT}`,
    dynamodbEndpoint: e.DYNAMODB_ENDPOINT ?? `http://127.0.0.1:${e.DYNAMODB_PORT}`,
    s3Endpoint: e.S3_ENDPOINT ?? `http://127.0.0.1:${e.S3_PORT}`,
    emulatorUrl,
    llmProvider,
    llmBaseUrl,
    llmModel: e.LLM_MODEL ?? (llmProvider === 'openai' ? 'gpt-4o-mini' : 'llama3.1:8b'),
    embeddingModel:
      e.EMBEDDING_MODEL ?? (llmProvider === 'openai' ? 'text-embedding-3-small' : 'nomic-embed-text'),
    external: {
      temporal: Boolean(e.TEMPORAL_ADDRESS),
      chroma: Boolean(e.CHROMA_URL),
      dynamodb: Boolean(e.DYNAMODB_ENDPOINT),
      s3: Boolean(e.S3_ENDPOINT),
      llm: Boolean(e.OLLAMA_HOST || e.OPENAI_API_KEY || e.OPENAI_BASE_URL),
    },
  };
}

/** An empty variable (`FOO=`) means unset, as shells and .env files usually intend. */
/** Values at least this long are cut out of a validator's message should it echo them. */
const MIN_SCRUBBED_LENGTH = 6;

/**
 * One line per bad variable: its name and what is wrong, never its value (a config error lands in
 * logs and CI output, and the value may be a secret such as OPENAI_API_KEY). Only the value's length
 * is shown, and any echo of the value inside a validator's message is cut out.
 */
export function describeConfigIssues(
  issues: readonly { path: readonly PropertyKey[]; message: string }[],
  env: NodeJS.ProcessEnv,
): string[] {
  return issues.map((issue) => {
    const name = issue.path.map(String).join('.');
    const value = env[String(issue.path[0])];
    // Values this short cannot hold a secret, and cutting them would garble the message's words.
    const echoes = value !== undefined && value.length >= MIN_SCRUBBED_LENGTH;
    const message = echoes ? issue.message.split(value).join('<value>') : issue.message;
    const shown =
      value === undefined
        ? 'unset'
        : `value hidden, ${value.length} character${value.length === 1 ? '' : 's'}`;
    return `  ${name} (${shown}): ${message}`;
  });
}

function stripEmpty(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined && v !== '') out[k] = v;
  return out;
}
