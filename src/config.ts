// Every setting of the application, read from the environment and validated once at start-up.
import path from 'node:path';
import { z } from 'zod';

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

  /** External DynamoDB endpoint (DynamoDB Local or AWS); when set, no dynalite is started. */
  DYNAMODB_ENDPOINT: optionalUrl,
  DYNAMODB_PORT: port.default(4567),
  DYNAMODB_TABLE: z.string().min(3).default('receipts'),
  /** External S3 endpoint (MinIO or AWS); when set, no s3rver is started. */
  S3_ENDPOINT: optionalUrl,
  S3_PORT: port.default(4568),
  S3_BUCKET: z.string().min(3).default('receipt-pipelines'),
  AWS_REGION: z.string().default('us-east-1'),

  /** Task queue of workflows and I/O activities. */
  TASK_QUEUE_PIPELINE: z.string().min(1).default('pipeline'),
  /** Task queue of LLM activities (the globally capped one). */
  TASK_QUEUE_LLM: z.string().min(1).default('llm'),
  /** Ground truth of the seeded dataset (oracle, scoring). Default: DATA_DIR/truth.json. */
  TRUTH_FILE: z.string().optional(),

  /** Port of the LLM provider emulator started by `stack up`. */
  EMULATOR_PORT: port.default(11435),

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
  /** Server-enforced rate of LLM activity dispatch for the `llm` task queue. */
  LLM_MAX_CALLS_PER_SECOND: optionalPositive,
  /** Token budget per minute across all workers (estimated before, reconciled after each call). */
  LLM_MAX_TOKENS_PER_MINUTE: optionalPositive,
  /** Lease of a global-cap permit; a dead worker's permits come back after this. */
  LLM_PERMIT_LEASE_MS: z.coerce.number().int().min(1000).default(30_000),
  /** Adapt the shared concurrency limit to 429/503 answers (AIMD below the cap). */
  LLM_ADAPTIVE: bool.default(true),
  LLM_CALL_TIMEOUT_MS: z.coerce.number().int().min(1000).default(120_000),
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
  /** Max concurrent activities on the `pipeline` worker (I/O only). */
  PIPELINE_MAX_CONCURRENT_ACTIVITIES: z.coerce.number().int().min(1).default(100),
  /** Port for Prometheus metrics of a worker process (0 = off). */
  METRICS_PORT: z.coerce.number().int().min(0).max(65535).default(0),
  LOG_LEVEL: z.enum(['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR']).default('INFO'),
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
    const lines = parsed.error.issues.map(
      (i) => `  ${i.path.join('.')}=${JSON.stringify(env[String(i.path[0])])}: ${i.message}`,
    );
    throw new ConfigError(
      `Invalid configuration in environment variables:\n${lines.join('\n')}\nFix or unset them (see README, Configuration).`,
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
function stripEmpty(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined && v !== '') out[k] = v;
  return out;
}
