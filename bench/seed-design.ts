// The seed 000 design, faithfully, in plain Node for the benchmark: three nested Map states with
// MaxConcurrency 3 / 10 / 5, each receipt FetchReceiptData -> EvaluateLabels -> LLMReview, where
// LLMReview runs chunks of 20 issues with asyncio.Semaphore(3)-like concurrency and retries 429s
// itself, and the state machine retries a failed LLMReview task on top (two retry layers).
import type { AppConfig } from '../src/config';
import { chunk } from '../src/domain/chunk';
import { labelReviewAnswerSchema, answerJsonSchema } from '../src/domain/llm-tasks';
import { labelReviewMessages } from '../src/domain/prompts';
import { findLabelIssues } from '../src/domain/rules';
import { createStores } from '../src/deps';
import { LlmRateLimitedError, LlmTransientError } from '../src/llm/errors';
import { safeParseJson } from '../src/llm/llm-client';
import { createProvider } from '../src/llm/providers';

export interface SeedDesignOptions {
  /** Map MaxConcurrency at each level (seed: 3 / 10 / 5). */
  widths: { merchants: number; batches: number; receipts: number };
  batchSize: number;
  /** MAX_CONCURRENT_LLM_CALLS inside one LLMReview Lambda (seed: 3). */
  callsPerReview: number;
  chunkSize: number;
  /**
   * The Lambda's own 429 retries: exponential backoff without Retry-After, like tenacity's
   * `wait_exponential(multiplier=1, max=30)` that such Lambdas commonly use; `jitter: 'full'` is
   * the better-behaved variant (AWS's recommended full jitter), measured as well.
   */
  inner: { maxRetries: number; baseMs: number; capMs: number; jitter: 'none' | 'full' };
  /** Step Functions `Retry` on the LLMReview task: IntervalSeconds, BackoffRate, MaxAttempts. */
  outer: { maxAttempts: number; intervalMs: number; backoffRate: number };
}

export const SEED_DESIGN_DEFAULTS: SeedDesignOptions = {
  widths: { merchants: 3, batches: 10, receipts: 5 },
  batchSize: 10,
  callsPerReview: 3,
  chunkSize: 20,
  inner: { maxRetries: 4, baseMs: 1000, capMs: 30_000, jitter: 'none' },
  outer: { maxAttempts: 3, intervalMs: 2000, backoffRate: 2 },
};

export interface SeedDesignResult {
  makespanMs: number;
  succeeded: number;
  failed: number;
  /** LLM calls that got an answer. */
  calls: number;
  /**
   * Requests in flight as the seed design's clients see them (refused ones included, until their
   * 429 arrives): the burst the provider is hit with. The emulator's own series counts only the
   * requests it admitted, so it can never show more than its limit.
   */
  attemptedSeries: Array<{ t: number; inFlight: number }>;
}

/** Runs items with at most `limit` in flight (a Map state's MaxConcurrency, or a semaphore). */
async function mapConcurrent<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await fn(items[next++]!);
  });
  await Promise.all(lanes);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function runSeedDesign(
  cfg: AppConfig,
  options: Partial<SeedDesignOptions> = {},
): Promise<SeedDesignResult> {
  const o = { ...SEED_DESIGN_DEFAULTS, ...options };
  const { receipts: store } = createStores(cfg);
  const provider = createProvider(cfg);
  const schema = answerJsonSchema('label_review');
  let calls = 0;
  let attempting = 0;
  const attemptedSeries: SeedDesignResult['attemptedSeries'] = [];
  let t0 = Date.now();
  const track = (delta: number) => {
    attempting += delta;
    attemptedSeries.push({ t: Date.now() - t0, inFlight: attempting });
  };
  let succeeded = 0;
  let failed = 0;

  const callWithInnerRetries = async (messages: ReturnType<typeof labelReviewMessages>) => {
    for (let attempt = 0; ; attempt++) {
      try {
        track(+1);
        const res = await provider
          .chat({
            model: cfg.llmModel,
            messages,
            jsonSchema: schema,
            schemaName: 'label_review',
          })
          .finally(() => track(-1));
        calls++;
        const parsed = safeParseJson(res.content, labelReviewAnswerSchema);
        if (!parsed.ok) throw new Error(`invalid answer: ${parsed.error}`);
        return parsed.value;
      } catch (err) {
        const retryable = err instanceof LlmRateLimitedError || err instanceof LlmTransientError;
        if (!retryable || attempt >= o.inner.maxRetries) throw err;
        const backoff = Math.min(o.inner.capMs, o.inner.baseMs * 2 ** attempt);
        await sleep(o.inner.jitter === 'full' ? Math.random() * backoff : backoff);
      }
    }
  };

  const llmReview = async (merchantName: string, issues: ReturnType<typeof findLabelIssues>) => {
    await mapConcurrent(chunk(issues, o.chunkSize), o.callsPerReview, async (c) => {
      await callWithInnerRetries(labelReviewMessages(merchantName, c));
    });
  };

  const processReceipt = async (receiptId: string) => {
    const receipt = await store.getReceipt(receiptId);
    if (!receipt) {
      failed++;
      return;
    }
    const issues = findLabelIssues(receipt, {});
    for (let attempt = 1; ; attempt++) {
      try {
        if (issues.length) await llmReview(receipt.merchantName, issues);
        succeeded++;
        return;
      } catch {
        if (attempt >= o.outer.maxAttempts) {
          failed++;
          return;
        }
        await sleep(o.outer.intervalMs * o.outer.backoffRate ** (attempt - 1));
      }
    }
  };

  const started = Date.now();
  t0 = started;
  const merchants = (await store.listMerchants()).map((m) => m.merchantId).sort();
  await mapConcurrent(merchants, o.widths.merchants, async (merchantId) => {
    const batches = chunk((await store.listReceiptIds(merchantId)).sort(), o.batchSize);
    await mapConcurrent(batches, o.widths.batches, (batch) =>
      mapConcurrent(batch, o.widths.receipts, processReceipt),
    );
  });
  return { makespanMs: Date.now() - started, succeeded, failed, calls, attemptedSeries };
}
