// Per-call accounting (latency, status, tokens, cost, cache hit), run aggregates, and the
// Prometheus counters of a worker process.
import http from 'node:http';
import { z } from 'zod';

export type CallStatus = 'ok' | 'cache_hit' | 'rate_limited' | 'error' | 'invalid_answer' | 'fatal';

export interface CallRecord {
  runId: string;
  callId: string;
  task: string;
  fairnessKey?: string;
  status: CallStatus;
  /** Requests that reached the provider in this call (repair attempts included). */
  providerRequests: number;
  latencyMs: number;
  promptTokens: number;
  completionTokens: number;
  costUsd: number;
  model: string;
  at: number;
  /** The output-token limit each request of the call carried (num_predict / max_tokens). */
  maxOutputTokens?: number;
  /** Requests whose answer was cut at that limit (each one an invalid answer). */
  truncatedRequests?: number;
  /** The call ended at LLM_CALL_TIMEOUT_MS. */
  timedOut?: boolean;
  /**
   * Of `latencyMs`, the time its requests waited for one of the provider's slots, as the provider
   * reported it (Ollama's durations); absent where the provider does not say (OpenAI).
   */
  providerQueuedMs?: number;
  /**
   * A `cache_hit` answered from the answer ledger: an earlier attempt of the same logical call had
   * paid for it (its completion was lost), so this attempt made no request.
   */
  replayed?: boolean;
  /** An answer of an OpenAI Batch API job (batch mode): priced at BATCH_PRICE_FACTOR, no latency of its own. */
  batch?: boolean;
}

/** The Batch API's price against realtime requests (half). */
export const BATCH_PRICE_FACTOR = 0.5;

export interface LlmRunStats {
  calls: number;
  providerRequests: number;
  rateLimited: number;
  errors: number;
  cacheHits: number;
  /** Calls that ended at LLM_CALL_TIMEOUT_MS. */
  timeouts: number;
  /** Provider answers cut at the call's output-token limit. */
  truncated: number;
  promptTokens: number;
  completionTokens: number;
  costUsd: number;
  latencyMs: { p50: number; p95: number; p99: number };
  /** The calls' waits in the provider's queue, where the provider reported them (Ollama). */
  providerQueuedMs?: { calls: number; p50: number; p95: number; max: number };
}

const priceSchema = z.record(
  z.string(),
  z.object({ inputPerMTok: z.number().min(0), outputPerMTok: z.number().min(0) }),
);
export type PriceTable = z.infer<typeof priceSchema>;

/** List prices in USD per million tokens; override with LLM_PRICES. Local models cost nothing. */
export const DEFAULT_PRICES: PriceTable = {
  'gpt-4o-mini': { inputPerMTok: 0.15, outputPerMTok: 0.6 },
  'gpt-4o': { inputPerMTok: 2.5, outputPerMTok: 10 },
  'gpt-4.1-mini': { inputPerMTok: 0.4, outputPerMTok: 1.6 },
  'text-embedding-3-small': { inputPerMTok: 0.02, outputPerMTok: 0 },
  'llama3.1:8b': { inputPerMTok: 0.05, outputPerMTok: 0.08 },
};

export function parsePrices(json: string | undefined): PriceTable {
  if (!json) return DEFAULT_PRICES;
  const parsed = priceSchema.safeParse(JSON.parse(json));
  if (!parsed.success)
    throw new Error(
      `LLM_PRICES must be {"model":{"inputPerMTok":n,"outputPerMTok":n}}: ${parsed.error.message}`,
    );
  return { ...DEFAULT_PRICES, ...parsed.data };
}

export function costOf(
  prices: PriceTable,
  model: string,
  promptTokens: number,
  completionTokens: number,
): number {
  const p = prices[model];
  if (!p) return 0;
  return (promptTokens * p.inputPerMTok + completionTokens * p.outputPerMTok) / 1_000_000;
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[idx]!;
}

export function summarizeCalls(records: CallRecord[]): LlmRunStats {
  const latencies = records
    .filter((r) => (r.status === 'ok' || r.status === 'invalid_answer') && !r.batch)
    .map((r) => r.latencyMs)
    .sort((a, b) => a - b);
  const sum = (f: (r: CallRecord) => number) => records.reduce((n, r) => n + f(r), 0);
  return {
    calls: records.filter((r) => r.status !== 'cache_hit').length,
    providerRequests: sum((r) => r.providerRequests),
    rateLimited: records.filter((r) => r.status === 'rate_limited').length,
    errors: records.filter(
      (r) => r.status === 'error' || r.status === 'fatal' || r.status === 'invalid_answer',
    ).length,
    cacheHits: records.filter((r) => r.status === 'cache_hit').length,
    timeouts: records.filter((r) => r.timedOut).length,
    truncated: sum((r) => r.truncatedRequests ?? 0),
    promptTokens: sum((r) => r.promptTokens),
    completionTokens: sum((r) => r.completionTokens),
    costUsd: Math.round(sum((r) => r.costUsd) * 1e6) / 1e6,
    latencyMs: {
      p50: percentile(latencies, 50),
      p95: percentile(latencies, 95),
      p99: percentile(latencies, 99),
    },
    ...providerQueue(records),
  };
}

function providerQueue(records: CallRecord[]): Pick<LlmRunStats, 'providerQueuedMs'> {
  const waits = records
    .map((r) => r.providerQueuedMs)
    .filter((x): x is number => x !== undefined)
    .sort((a, b) => a - b);
  if (!waits.length) return {};
  return {
    providerQueuedMs: {
      calls: waits.length,
      p50: percentile(waits, 50),
      p95: percentile(waits, 95),
      max: waits[waits.length - 1]!,
    },
  };
}

/** Process-wide counters in Prometheus text format (served by the worker on METRICS_PORT). */
export class LlmMetrics {
  private readonly counters = new Map<string, number>();
  private readonly latencyBuckets = [50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000];
  private readonly latencyCounts = new Array<number>(this.latencyBuckets.length + 1).fill(0);
  private latencySum = 0;
  private latencyCount = 0;
  private readonly gauges = new Map<string, () => number>();
  inFlight = 0;

  /** Adds a gauge read at each scrape (e.g. calls waiting for a global permit). */
  gauge(name: string, read: () => number): void {
    this.gauges.set(name, read);
  }

  observe(rec: CallRecord): void {
    this.inc(`llm_calls_total{status="${rec.status}",task="${rec.task}"}`);
    this.inc('llm_provider_requests_total', rec.providerRequests);
    this.inc('llm_prompt_tokens_total', rec.promptTokens);
    this.inc('llm_completion_tokens_total', rec.completionTokens);
    this.inc('llm_cost_usd_total', rec.costUsd);
    if (rec.status === 'ok') {
      const i = this.latencyBuckets.findIndex((b) => rec.latencyMs <= b);
      this.latencyCounts[i === -1 ? this.latencyBuckets.length : i]!++;
      this.latencySum += rec.latencyMs / 1000;
      this.latencyCount++;
    }
  }

  private inc(key: string, by = 1): void {
    this.counters.set(key, (this.counters.get(key) ?? 0) + by);
  }

  /** Adds to a counter of its own (e.g. DynamoDB requests by command: `countDynamoRequests`). */
  count(key: string, by = 1): void {
    this.inc(key, by);
  }

  render(): string {
    const lines = [...this.counters.entries()].map(([k, v]) => `${k} ${v}`);
    lines.push(`llm_in_flight ${this.inFlight}`);
    for (const [name, read] of this.gauges) lines.push(`${name} ${read()}`);
    let cumulative = 0;
    this.latencyBuckets.forEach((b, i) => {
      cumulative += this.latencyCounts[i]!;
      lines.push(`llm_call_latency_seconds_bucket{le="${b / 1000}"} ${cumulative}`);
    });
    lines.push(`llm_call_latency_seconds_bucket{le="+Inf"} ${this.latencyCount}`);
    lines.push(
      `llm_call_latency_seconds_sum ${this.latencySum}`,
      `llm_call_latency_seconds_count ${this.latencyCount}`,
    );
    return lines.join('\n') + '\n';
  }

  /** Serves `/metrics` on a port; returns the server so the worker can close it on shutdown. */
  serve(port: number): http.Server {
    return http
      .createServer((req, res) => {
        if (req.url !== '/metrics') return res.writeHead(404).end();
        res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(this.render());
      })
      .listen(port, '127.0.0.1')
      .unref(); // a scrape endpoint must not keep a worker alive after SIGTERM shut it down
  }
}
