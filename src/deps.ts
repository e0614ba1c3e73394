// Builds the injected dependencies of activities from config (one place that wires clients).
import type { AppConfig } from './config';
import { LlmMetrics, parsePrices } from './llm/accounting';
import { LlmCache } from './llm/cache';
import { GlobalLimiter } from './llm/limiter';
import { LlmClient } from './llm/llm-client';
import { createProvider } from './llm/providers';
import { createDynamoClient } from './stores/clients';
import { ReceiptStore } from './stores/receipts';
import { RunStore } from './stores/runs';

export function createStores(cfg: AppConfig) {
  const ddb = createDynamoClient(cfg);
  const receipts = new ReceiptStore(ddb, cfg.DYNAMODB_TABLE);
  return { ddb, receipts, runs: new RunStore(receipts) };
}

export function createLlmLayer(cfg: AppConfig, ddb = createDynamoClient(cfg)) {
  const limiter = new GlobalLimiter(ddb, cfg.DYNAMODB_TABLE, {
    cap: cfg.LLM_MAX_CONCURRENT_CALLS,
    leaseMs: cfg.LLM_PERMIT_LEASE_MS,
    adaptive: cfg.LLM_ADAPTIVE,
    maxTokensPerMinute: cfg.LLM_MAX_TOKENS_PER_MINUTE,
  });
  const metrics = new LlmMetrics();
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
  });
  return { limiter, metrics, llm };
}
