// Builds the injected dependencies of activities from config (one place that wires clients).
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { AppConfig } from './config';
import { embedSettingsFromConfig, type EmbeddingDeps } from './activities/embed';
import { BatchApi } from './llm/batch-api';
import { EmbeddingStore } from './stores/embeddings';
import { LlmMetrics, parsePrices } from './llm/accounting';
import type { BatchModeDeps } from './activities/batch-mode';
import { CallRecorder } from './llm/call-records';
import { LlmBatchJobStore } from './stores/llm-batch-jobs';
import { AnswerLedger } from './llm/answer-ledger';
import { LlmCache } from './llm/cache';
import { GlobalLimiter } from './llm/limiter';
import { LlmClient } from './llm/llm-client';
import { createProvider } from './llm/providers';
import { ChromaStore } from './stores/chroma';
import { createDynamoClient, createS3Client } from './stores/clients';
import { OutlierDecisionCache } from './stores/outlier-decisions';
import { ReceiptStore } from './stores/receipts';
import { RunStore } from './stores/runs';
import { ObjectStore } from './stores/s3';

export function createStores(cfg: AppConfig) {
  const ddb = createDynamoClient(cfg);
  const receipts = new ReceiptStore(ddb, cfg.DYNAMODB_TABLE);
  return { ddb, receipts, runs: new RunStore(receipts) };
}

export function createLlmLayer(cfg: AppConfig, ddb = createDynamoClient(cfg)) {
  const metrics = new LlmMetrics();
  // The limiter has a client of its own, so its DynamoDB round trips can be told apart; both clients'
  // requests are counted by command (the benches report them per LLM call).
  const limiterDdb = createDynamoClient(cfg);
  countDynamoRequests(limiterDdb, metrics, 'limiter');
  countDynamoRequests(ddb, metrics, 'worker');
  const limiter = new GlobalLimiter(limiterDdb, cfg.DYNAMODB_TABLE, {
    cap: cfg.LLM_MAX_CONCURRENT_CALLS,
    leaseMs: cfg.LLM_PERMIT_LEASE_MS,
    adaptive: cfg.LLM_ADAPTIVE !== 'off',
    latencyAware: cfg.LLM_ADAPTIVE === 'latency',
    maxTokensPerMinute: cfg.LLM_MAX_TOKENS_PER_MINUTE,
    ...(cfg.LLM_PERMIT_HANDOFF ? {} : { handoffMaxAgeMs: 0 }),
  });
  metrics.gauge('llm_permit_waiters', () => limiter.waiting);
  const llm = new LlmClient({
    provider: createProvider(cfg),
    limiter,
    cache: new LlmCache(ddb, cfg.DYNAMODB_TABLE, cfg.LLM_CACHE_TTL_S),
    metrics,
    prices: parsePrices(cfg.LLM_PRICES),
    ddb,
    table: cfg.DYNAMODB_TABLE,
    model: cfg.llmModel,
    embeddingModel: cfg.embeddingModel,
    repairAttempts: cfg.LLM_REPAIR_ATTEMPTS,
    callTimeoutMs: cfg.LLM_CALL_TIMEOUT_MS,
    ledger: new AnswerLedger(ddb, cfg.DYNAMODB_TABLE, cfg.LLM_ANSWER_LEDGER_TTL_S),
  });
  return { limiter, metrics, llm };
}

/** Stores the label harmonizer adds: Chroma, S3 hand-off files, the outlier decision cache. */
export function createHarmonizationStores(cfg: AppConfig, stores = createStores(cfg)) {
  return {
    chroma: new ChromaStore({ url: cfg.chromaUrl, prefix: cfg.CHROMA_COLLECTION_PREFIX }),
    objects: new ObjectStore(createS3Client(cfg), cfg.S3_BUCKET),
    outlierDecisions: new OutlierDecisionCache(stores.receipts, cfg.LLM_CACHE_TTL_S),
  };
}

/** Dependencies of the embedding pipeline's activities (seed 003); Chroma and S3 shared with the harmonizer. */
export function createEmbeddingDeps(
  cfg: AppConfig,
  stores = createStores(cfg),
  shared: { chroma: ChromaStore; objects: ObjectStore } = createHarmonizationStores(cfg, stores),
): EmbeddingDeps {
  return {
    embeddings: new EmbeddingStore(stores.ddb, cfg.DYNAMODB_TABLE),
    objects: shared.objects,
    batchApi: BatchApi.fromConfig(cfg),
    vectors: shared.chroma,
    runs: stores.runs,
    settings: embedSettingsFromConfig(cfg),
    prices: parsePrices(cfg.LLM_PRICES),
    s3Prefix: cfg.EMBED_S3_PREFIX,
  };
}

/** Dependencies of batch mode's activities (pipeline queue): the Batch API, the LLM cache, call records. */
export function createBatchModeDeps(
  cfg: AppConfig,
  stores: ReturnType<typeof createStores>,
  embedding: Pick<EmbeddingDeps, 'objects' | 'batchApi'>,
): BatchModeDeps {
  return {
    receipts: stores.receipts,
    runs: stores.runs,
    jobs: new LlmBatchJobStore(stores.receipts),
    objects: embedding.objects,
    batchApi: embedding.batchApi,
    cache: new LlmCache(stores.ddb, cfg.DYNAMODB_TABLE, cfg.LLM_CACHE_TTL_S),
    recorder: new CallRecorder({
      ddb: stores.ddb,
      table: cfg.DYNAMODB_TABLE,
      metrics: new LlmMetrics(),
      prices: parsePrices(cfg.LLM_PRICES),
    }),
    provider: cfg.llmProvider,
    model: cfg.llmModel,
    maxRequestsPerJob: cfg.LLM_BATCH_MAX_REQUESTS,
    s3Prefix: cfg.EMBED_S3_PREFIX,
  };
}

/**
 * Counts a DynamoDB client's requests in `llm_dynamodb_requests_total{client,command}` (the worker's
 * own client counts every store of its process, the limiter's only the limiter).
 */
function countDynamoRequests(client: DynamoDBDocumentClient, metrics: LlmMetrics, name: string): void {
  client.middlewareStack.add(
    (next, context) => (args) => {
      metrics.count(`llm_dynamodb_requests_total{client="${name}",command="${context.commandName ?? '?'}"}`);
      return next(args);
    },
    { step: 'initialize', name: `count-${name}-requests`, override: true },
  );
}
