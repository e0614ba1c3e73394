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
   * The Lambda's own retries of a refused call (429/5xx). `uniform` is what the seed project's
   * invoker does (tnorlund/Portfolio, receipt_agent `RateLimitedLLMInvoker` / `llm_factory`:
   * `max_retries = 3`, each retry after `random.uniform(0, max_jitter_seconds)` with 0.25 s, no
   * backoff, Retry-After not read), then it raises a rate-limit error that fails the Lambda.
   * `exponential` (1 s x 2^n capped, AWS's "full jitter") is the better-behaved variant it could
   * have used, measured as well.
   */
  inner:
    | { attempts: number; backoff: 'uniform'; maxMs: number }
    | { attempts: number; backoff: 'exponential'; baseMs: number; capMs: number };
  /**
   * Step Functions `Retry` on the LLMReview task for the rate-limit error: IntervalSeconds,
   * MaxAttempts (retries after the first attempt), BackoffRate. The seed project's first
   * rate-limit rule was 5 s / 3 / 2.0 (its rate-limit notes; later versions moved to 30 s / 5 / 2.0).
   */
  outer: { retries: number; intervalMs: number; backoffRate: number };
  /** Only these receipts (an operator re-running the failed ones); all when unset. */
  receiptIds?: readonly string[];
}

export const SEED_DESIGN_DEFAULTS: SeedDesignOptions = {
  widths: { merchants: 3, batches: 10, receipts: 5 },
  batchSize: 10,
  callsPerReview: 3,
  chunkSize: 20,
  inner: { attempts: 3, backoff: 'uniform', maxMs: 250 },
  outer: { retries: 3, intervalMs: 5000, backoffRate: 2 },
};

/** The inner retries with exponential backoff and full jitter instead of the seed's quick retries. */
export const SEED_DESIGN_FULL_JITTER: Partial<SeedDesignOptions> = {
  inner: { attempts: 5, backoff: 'exponential', baseMs: 1000, capMs: 30_000 },
};

export interface SeedDesignResult {
  makespanMs: number;
  succeeded: number;
  failed: number;
  failedReceiptIds: string[];
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
  let failed = false;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    try {
      while (next < items.length && !failed) await fn(items[next++]!);
    } catch (err) {
      failed = true; // like a failed Lambda: the rest of its items are not started
      throw err;
    }
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
  const failedReceiptIds: string[] = [];
  const only = o.receiptIds && new Set(o.receiptIds);

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
        if (!retryable || attempt + 1 >= o.inner.attempts) throw err;
        const i = o.inner;
        await sleep(
          i.backoff === 'uniform'
            ? Math.random() * i.maxMs
            : Math.random() * Math.min(i.capMs, i.baseMs * 2 ** attempt),
        );
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
      failedReceiptIds.push(receiptId);
      return;
    }
    const issues = findLabelIssues(receipt, {});
    for (let retry = 0; ; retry++) {
      try {
        if (issues.length) await llmReview(receipt.merchantName, issues);
        succeeded++;
        return;
      } catch {
        // The seed's state machine has no Catch, so one receipt out of retries fails the whole
        // execution; here it only counts as failed and the others go on (kinder to the seed).
        if (retry >= o.outer.retries) {
          failedReceiptIds.push(receiptId);
          return;
        }
        await sleep(o.outer.intervalMs * o.outer.backoffRate ** retry);
      }
    }
  };

  const started = Date.now();
  t0 = started;
  const merchants = (await store.listMerchants()).map((m) => m.merchantId).sort();
  await mapConcurrent(merchants, o.widths.merchants, async (merchantId) => {
    const ids = (await store.listReceiptIds(merchantId)).filter((r) => !only || only.has(r));
    const batches = chunk(ids.sort(), o.batchSize);
    await mapConcurrent(batches, o.widths.batches, (batch) =>
      mapConcurrent(batch, o.widths.receipts, processReceipt),
    );
  });
  return {
    makespanMs: Date.now() - started,
    succeeded,
    failed: failedReceiptIds.length,
    failedReceiptIds,
    calls,
    attemptedSeries,
  };
}
