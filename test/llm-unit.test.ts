// Unit tests of the LLM layer: error mapping (Retry-After included), the limiter's pure parts,
// cost and percentiles, cache keys and coalescing, JSON validation, and the client's call path
// (repair, refusals, cache) over fakes.
import http from 'node:http';
import type net from 'node:net';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { z } from 'zod';
import { ApplicationFailure } from '@temporalio/common';
import {
  type CallRecord,
  DEFAULT_PRICES,
  LlmMetrics,
  costOf,
  parsePrices,
  percentile,
  summarizeCalls,
} from '../src/llm/accounting';
import { LlmCache, cacheKey } from '../src/llm/cache';
import {
  LlmBudgetExhaustedError,
  LlmFatalError,
  LlmInvalidAnswerError,
  LlmRateLimitedError,
  LlmTransientError,
  errorForStatus,
  parseRetryAfter,
  toActivityFailure,
} from '../src/llm/errors';
import {
  type GlobalLimiter,
  type Permit,
  allowedInFlight,
  applyLimiterDefaults,
  pickSlot,
} from '../src/llm/limiter';
import { LlmClient, estimateTokens, safeParseJson } from '../src/llm/llm-client';
import { LlmCallTimeoutError } from '../src/llm/deadline';
import { mapOpenAiError, OpenAiProvider, strictSubset } from '../src/llm/openai';
import { FREE_STRING_CHARS, outputTokenLimit } from '../src/llm/output-limit';
import { boundFreeStrings } from '../src/llm/ollama';
import {
  answerJsonSchema,
  answerJsonSchemaFor,
  coversExactly,
  REASON_MAX_CHARS,
} from '../src/domain/llm-tasks';
import { OllamaProvider } from '../src/llm/ollama';
import type { ChatRequest, ChatResult, LlmProvider } from '../src/llm/types';
import { llmActivityOptions } from '../src/workflows/shared';

describe('errors', () => {
  test('provider statuses map to one error class each', () => {
    const cases: Array<[number, new (...a: never[]) => Error]> = [
      [429, LlmRateLimitedError],
      [503, LlmRateLimitedError],
      [500, LlmTransientError],
      [502, LlmTransientError],
      [504, LlmTransientError],
      [408, LlmTransientError],
      [409, LlmTransientError],
      [400, LlmFatalError],
      [401, LlmFatalError],
      [403, LlmFatalError],
      [404, LlmFatalError],
      [422, LlmFatalError],
    ];
    for (const [status, cls] of cases) {
      const err = errorForStatus(status, 1234, `status ${status}`);
      assert.ok(err instanceof cls, `${status} -> ${err.name}`);
      assert.ok(err.message.includes(`status ${status}`), err.message);
      // A refusal of our credentials says what to check (the breaker stops the run with it).
      if (status === 401 || status === 403) assert.match(err.message, /Check the API key/);
      if (err instanceof LlmRateLimitedError) {
        assert.equal(err.status, status);
        assert.equal(err.retryAfterMs, 1234);
      }
    }
  });

  test('Retry-After: seconds, fractions, HTTP dates, retry-after-ms first, junk ignored', () => {
    const now = Date.UTC(2030, 0, 1, 12, 0, 0);
    const cases: Array<[Record<string, string>, number | undefined]> = [
      [{}, undefined],
      [{ 'retry-after': '2' }, 2000],
      [{ 'retry-after': '0.5' }, 500],
      [{ 'retry-after': '0' }, 0],
      [{ 'retry-after': '-3' }, 0],
      [{ 'retry-after': new Date(now + 7000).toUTCString() }, 7000],
      [{ 'retry-after': new Date(now - 7000).toUTCString() }, 0],
      [{ 'retry-after': 'soon' }, undefined],
      [{ 'retry-after-ms': '750' }, 750],
      [{ 'retry-after-ms': '1500', 'retry-after': '9' }, 1500],
      [{ 'retry-after-ms': 'abc', 'retry-after': '2' }, 2000],
    ];
    for (const [headers, want] of cases)
      assert.equal(parseRetryAfter(new Headers(headers), now), want, JSON.stringify(headers));
    assert.equal(parseRetryAfter(undefined, now), undefined);
  });

  test('the OpenAI adapter keeps the status and Retry-After of SDK errors', () => {
    const limited = mapOpenAiError(
      OpenAI.APIError.generate(
        429,
        { error: { message: 'slow down' } },
        'slow down',
        new Headers({ 'retry-after': '3' }),
      ),
    );
    assert.ok(limited instanceof LlmRateLimitedError);
    assert.equal(limited.retryAfterMs, 3000);
    const fatal = mapOpenAiError(
      OpenAI.APIError.generate(401, { error: { message: 'bad key' } }, 'bad key', new Headers()),
    );
    assert.ok(fatal instanceof LlmFatalError);
    assert.ok(
      mapOpenAiError(new OpenAI.APIConnectionError({ message: 'reset' })) instanceof LlmTransientError,
    );
    const other = new TypeError('a bug');
    assert.equal(mapOpenAiError(other), other);
  });

  test('errors become the ApplicationFailure Temporal should retry (or not)', () => {
    const rate = toActivityFailure(new LlmRateLimitedError(429, 2500, 'refused'));
    assert.equal(rate.type, 'LlmRateLimited');
    assert.equal(rate.nonRetryable, false);
    assert.equal(rate.nextRetryDelay, 2500);
    // A call that keeps outlasting LLM_CALL_TIMEOUT_MS stops after 3 attempts, saying what to change.
    assert.equal(toActivityFailure(new LlmCallTimeoutError(100), 1).nonRetryable, false);
    const timedOut = toActivityFailure(new LlmCallTimeoutError(100), 3);
    assert.deepEqual([timedOut.nonRetryable, timedOut.type], [true, 'LlmCallTimeout']);
    assert.match(timedOut.message, /Raise LLM_CALL_TIMEOUT_MS/);
    // Ollama's 503 (model loading) has no Retry-After: the retry policy's exponential backoff applies.
    assert.equal(
      toActivityFailure(new LlmRateLimitedError(503, undefined, 'busy')).nextRetryDelay,
      undefined,
    );

    const budget = toActivityFailure(new LlmBudgetExhaustedError(42_000));
    assert.equal(budget.type, 'LlmBudgetExhausted');
    assert.equal(budget.nextRetryDelay, 42_000);
    assert.equal(budget.nonRetryable, false);

    const fatal = toActivityFailure(new LlmFatalError(401, 'bad key'));
    assert.deepEqual([fatal.type, fatal.nonRetryable], ['LlmFatal', true]);
    const invalid = toActivityFailure(new LlmInvalidAnswerError('not JSON'));
    assert.deepEqual([invalid.type, invalid.nonRetryable], ['LlmInvalidAnswer', true]);
    const transient = toActivityFailure(new LlmTransientError(502, 'bad gateway'));
    assert.deepEqual([transient.type, transient.nonRetryable], ['LlmTransient', false]);
    const plain = toActivityFailure(new RangeError('oops'));
    assert.deepEqual([plain.type, plain.nonRetryable, plain.message], ['RangeError', false, 'oops']);
    const already = ApplicationFailure.nonRetryable('x', 'Mine');
    assert.equal(toActivityFailure(already), already);

    // The workflow's retry policy knows every non-retryable type the activity produces.
    const nonRetryable = llmActivityOptions('m').retry?.nonRetryableErrorTypes ?? [];
    for (const f of [fatal, invalid]) assert.ok(nonRetryable.includes(f.type!), f.type!);
    for (const f of [rate, budget, transient]) assert.ok(!nonRetryable.includes(f.type!), f.type!);
  });
});

describe('limiter (pure parts)', () => {
  test('allowedInFlight', () => {
    const cases: Array<[string, { limit: number; confirmed: number; slowStart: boolean }, number]> = [
      ['slow start, nothing confirmed: the initial window', { limit: 16, confirmed: 0, slowStart: true }, 4],
      ['slow start, 3 confirmed: still the window', { limit: 16, confirmed: 3, slowStart: true }, 4],
      ['slow start, 4 confirmed: one more', { limit: 16, confirmed: 4, slowStart: true }, 5],
      ['slow start, 5 confirmed: +25% rounded up', { limit: 16, confirmed: 5, slowStart: true }, 7],
      ['slow start, 8 confirmed', { limit: 16, confirmed: 8, slowStart: true }, 10],
      ['slow start, 12 confirmed', { limit: 16, confirmed: 12, slowStart: true }, 15],
      ['slow start never passes the cap', { limit: 16, confirmed: 15, slowStart: true }, 16],
      ['slow start never passes the limit', { limit: 6, confirmed: 8, slowStart: true }, 6],
      ['learned limit', { limit: 4, confirmed: 9, slowStart: false }, 4],
      ['fractional limit rounds down', { limit: 4.7, confirmed: 0, slowStart: false }, 4],
      ['at least one call', { limit: 0, confirmed: 0, slowStart: false }, 1],
      ['never above the cap', { limit: 40, confirmed: 0, slowStart: false }, 16],
    ];
    for (const [why, state, want] of cases) assert.equal(allowedInFlight(state, 16, 4, true), want, why);
    assert.equal(
      allowedInFlight({ limit: 2, confirmed: 0, slowStart: false }, 16, 4, false),
      16,
      'not adaptive',
    );
    assert.equal(
      allowedInFlight({ limit: 16, confirmed: 4, slowStart: true }, 16, 4, true, 1),
      8,
      'doubling',
    );
    // Latency-aware: slow start waits at its initial window until the unloaded latency is known.
    const unknownBase = { limit: 16, confirmed: 3, slowStart: true };
    assert.equal(allowedInFlight(unknownBase, 16, 1, true, 0.25, true), 1, 'unloaded latency unknown');
    assert.equal(allowedInFlight({ ...unknownBase, baseLatency: 4 }, 16, 1, true, 0.25, true), 4, 'known');
    // Known, the initial window opens by doubling what a call served without waiting confirmed.
    const opening = (confirmed: number, baseWindow = 1) =>
      allowedInFlight({ ...unknownBase, confirmed, baseLatency: 4 }, 16, 4, true, 0.25, true, baseWindow);
    assert.deepEqual(
      [0, 1, 2, 3, 4, 5].map((c) => opening(c)),
      [2, 2, 4, 4, 5, 7],
      'doubling to the window',
    );
    assert.equal(opening(0, 4), 4, 'never below the base window');
    assert.equal(allowedInFlight({ ...unknownBase, slowStart: false, limit: 6 }, 16, 1, true, 0.25, true), 6);
  });

  test('defaults: the initial window never exceeds the cap', () => {
    const d = applyLimiterDefaults({ cap: 2, leaseMs: 1000, latencyAware: false });
    assert.equal(d.initialWindow, 2);
    assert.equal(d.name, 'llm');
    assert.equal(d.adaptive, true);
    assert.equal(d.slowStartGrowth, 0.25);
    // Latency-aware (the default) starts at one call, its base window: the unloaded latency is learnt
    // from a lone call; then the initial window opens, as refusal-only starts.
    assert.deepEqual(
      [applyLimiterDefaults({ cap: 10, leaseMs: 1000 })].map((d) => [d.baseWindow, d.initialWindow])[0],
      [1, 4],
    );
    assert.equal(applyLimiterDefaults({ cap: 10, leaseMs: 1000, latencyAware: false }).initialWindow, 4);
  });

  test('pickSlot takes the lowest free slot below the allowed count', () => {
    assert.equal(pickSlot(new Set(), 4), 0);
    assert.equal(pickSlot(new Set([0, 1, 3]), 4), 2);
    assert.equal(pickSlot(new Set([0, 1, 2, 3]), 4), undefined);
    // Slots above a lowered limit still count as held.
    assert.equal(pickSlot(new Set([5, 6]), 4), 0);
    assert.equal(pickSlot(new Set([0, 5, 6]), 3), undefined);
  });
});

describe('accounting', () => {
  test('cost from the price table; unknown models cost nothing; LLM_PRICES overrides', () => {
    assert.equal(costOf(DEFAULT_PRICES, 'gpt-4o-mini', 1_000_000, 0), 0.15);
    assert.equal(costOf(DEFAULT_PRICES, 'gpt-4o-mini', 0, 1_000_000), 0.6);
    assert.equal(costOf(DEFAULT_PRICES, 'gpt-4o', 1000, 500), (1000 * 2.5 + 500 * 10) / 1e6);
    assert.equal(costOf(DEFAULT_PRICES, 'my-local-model', 1e9, 1e9), 0);
    const prices = parsePrices('{"my-local-model":{"inputPerMTok":1,"outputPerMTok":2}}');
    assert.equal(costOf(prices, 'my-local-model', 1_000_000, 1_000_000), 3);
    assert.equal(costOf(prices, 'gpt-4o-mini', 1_000_000, 0), 0.15, 'defaults kept');
    assert.throws(() => parsePrices('{"m":{"inputPerMTok":-1}}'), /LLM_PRICES/);
  });

  test('percentiles are nearest-rank', () => {
    const hundred = Array.from({ length: 100 }, (_, i) => i + 1);
    assert.equal(percentile([], 50), 0);
    assert.equal(percentile([7], 99), 7);
    assert.equal(percentile(hundred, 50), 50);
    assert.equal(percentile(hundred, 95), 95);
    assert.equal(percentile(hundred, 99), 99);
    assert.equal(percentile(hundred, 100), 100);
    assert.equal(percentile([10, 20, 30, 40], 50), 20);
    assert.equal(percentile([10, 20, 30, 40], 0), 10);
  });

  test('run summary: calls without cache hits, refusals, errors, tokens, cost, latency', () => {
    const rec = (
      status: CallRecord['status'],
      latencyMs: number,
      extra: Partial<CallRecord> = {},
    ): CallRecord => ({
      runId: 'r',
      callId: `${status}${latencyMs}`,
      task: 'label_review',
      status,
      providerRequests: status === 'cache_hit' ? 0 : 1,
      latencyMs,
      promptTokens: 100,
      completionTokens: 10,
      costUsd: 0.0000015,
      model: 'gpt-4o-mini',
      at: 0,
      ...extra,
    });
    const s = summarizeCalls([
      rec('ok', 100),
      rec('ok', 300, { providerRequests: 2 }),
      rec('invalid_answer', 200),
      rec('rate_limited', 5, { promptTokens: 0, completionTokens: 0, costUsd: 0 }),
      rec('error', 9000),
      rec('fatal', 1),
      rec('cache_hit', 0, { promptTokens: 0, completionTokens: 0, costUsd: 0 }),
    ]);
    assert.equal(s.calls, 6);
    assert.equal(s.providerRequests, 7);
    assert.equal(s.rateLimited, 1);
    assert.equal(s.errors, 3);
    assert.equal(s.cacheHits, 1);
    assert.equal(s.promptTokens, 500);
    assert.equal(s.completionTokens, 50);
    assert.equal(s.costUsd, 0.000008);
    assert.deepEqual(s.latencyMs, { p50: 200, p95: 300, p99: 300 }, 'only answered calls');
    assert.equal(s.providerQueuedMs, undefined, 'no provider reported its queue');
    // Where the provider reports each call's wait for a slot (Ollama), the run's figures say how long.
    const q = summarizeCalls([
      rec('ok', 100, { providerQueuedMs: 0 }),
      rec('ok', 900, { providerQueuedMs: 700 }),
      rec('invalid_answer', 300, { providerQueuedMs: 20 }),
      rec('error', 50),
    ]);
    assert.deepEqual(q.providerQueuedMs, { calls: 3, p50: 20, p95: 700, max: 700 });
  });

  test('Prometheus counters and a cumulative latency histogram', () => {
    const m = new LlmMetrics();
    const base = { runId: 'r', task: 't', providerRequests: 1, promptTokens: 3, completionTokens: 2 };
    const common = { costUsd: 0, model: 'x', at: 0 };
    m.observe({ ...base, ...common, callId: '1', status: 'ok', latencyMs: 80 });
    m.observe({ ...base, ...common, callId: '2', status: 'ok', latencyMs: 3000 });
    m.observe({ ...base, ...common, callId: '3', status: 'rate_limited', latencyMs: 2 });
    const text = m.render();
    assert.match(text, /^llm_calls_total\{status="ok",task="t"\} 2$/m);
    assert.match(text, /^llm_calls_total\{status="rate_limited",task="t"\} 1$/m);
    assert.match(text, /^llm_provider_requests_total 3$/m);
    assert.match(text, /^llm_call_latency_seconds_bucket\{le="0.1"\} 1$/m);
    assert.match(text, /^llm_call_latency_seconds_bucket\{le="5"\} 2$/m);
    assert.match(text, /^llm_call_latency_seconds_bucket\{le="\+Inf"\} 2$/m);
    assert.match(text, /^llm_in_flight 0$/m);
  });
});

describe('cache', () => {
  const parts = {
    provider: 'ollama',
    model: 'llama3.1:8b',
    messages: [{ role: 'user', content: 'hi' }],
    schema: { type: 'object' },
    params: { temperature: 0 },
  };

  test('the key is stable (answers cached by earlier versions stay reachable) and covers every part', () => {
    const key = cacheKey(parts);
    assert.equal(key, 'c996135352efa1a911fc660d8def1014a9aeb8aabbc2ea40151d87cb3e545f3d');
    assert.equal(cacheKey(structuredClone(parts)), key, 'equal inputs, equal key');
    const variants = [
      { ...parts, provider: 'openai' },
      { ...parts, model: 'llama3.1:70b' },
      { ...parts, messages: [{ role: 'user', content: 'hi!' }] },
      { ...parts, messages: [...parts.messages, { role: 'assistant', content: '{}' }] },
      { ...parts, schema: { type: 'array' } },
      { ...parts, schema: undefined },
      { ...parts, params: { temperature: 0.7 } },
    ];
    const keys = new Set([key, ...variants.map(cacheKey)]);
    assert.equal(keys.size, variants.length + 1, 'every change gives another key');
    assert.equal(cacheKey({ ...parts, schema: undefined }), cacheKey({ ...parts, schema: null }));
  });

  test('identical concurrent requests in one process share one provider call', async () => {
    const cache = new LlmCache(fakeDdb().client, 't', 60);
    let calls = 0;
    let resolve!: (v: string) => void;
    const fn = () => {
      calls++;
      return new Promise<string>((r) => (resolve = r));
    };
    const a = cache.coalesce('k', fn);
    const b = cache.coalesce('k', fn);
    const c = cache.coalesce('other', () => Promise.resolve('c'));
    assert.deepEqual([a.shared, b.shared, c.shared], [false, true, false]);
    resolve('answer');
    assert.deepEqual(await Promise.all([a.promise, b.promise, c.promise]), ['answer', 'answer', 'c']);
    assert.equal(calls, 1);
    const again = cache.coalesce('k', () => Promise.reject(new Error('down')));
    assert.equal(again.shared, false, 'a settled call is not shared any more');
    await assert.rejects(again.promise, /down/);
    assert.equal(cache.coalesce('k', () => Promise.resolve('up')).shared, false, 'nor is a failed one');
  });

  test('expired answers are misses even where the store does not delete them (dynalite)', async () => {
    const ddb = fakeDdb();
    const cache = new LlmCache(ddb.client, 't', 60);
    const answer = { content: '{}', promptTokens: 1, completionTokens: 1, model: 'm' };
    const now = Date.UTC(2030, 0, 1);
    await cache.put('k', answer, now);
    assert.deepEqual(await cache.get('k', now + 59_000), answer);
    assert.equal(await cache.get('k', now + 60_000), undefined);
    const off = new LlmCache(ddb.client, 't', 0);
    await off.put('k2', answer, now);
    assert.equal(await off.get('k2', now), undefined, 'TTL 0 turns the cache off');
  });
});

describe('JSON validation', () => {
  const schema = z.object({ reviews: z.array(z.object({ id: z.string(), ok: z.boolean() })) });

  test('safeParseJson: valid, not JSON, or wrong shape with the path of each problem', () => {
    const good = safeParseJson('{"reviews":[{"id":"a","ok":true}]}', schema);
    assert.deepEqual(good, { ok: true, value: { reviews: [{ id: 'a', ok: true }] } });
    const truncated = safeParseJson('{"reviews":[{"id":"a",', schema);
    assert.equal(truncated.ok, false);
    assert.match(!truncated.ok ? truncated.error : '', /^not JSON: /);
    const wrong = safeParseJson('{"reviews":[{"id":"a","ok":"yes"},{"ok":false}]}', schema);
    assert.equal(wrong.ok, false);
    assert.match(!wrong.ok ? wrong.error : '', /reviews\.0\.ok: .*; reviews\.1\.id: /);
    const refined = schema.refine((a) => a.reviews.length === 2, { message: 'two reviews expected' });
    const r = safeParseJson('{"reviews":[]}', refined);
    assert.equal(r.ok, false);
    assert.match(!r.ok ? r.error : '', /two reviews expected/);
  });

  test('estimateTokens: about 4 characters a token plus the answer allowance', () => {
    assert.equal(estimateTokens([{ role: 'user', content: 'x'.repeat(400) }]), 300);
    assert.equal(estimateTokens([]), 200);
  });
});

describe('per-call answer schemas', () => {
  test('an answer must name every id sent exactly once (a repeated id failed a harmonizer group on the real model)', () => {
    const ids = new Set(['a', 'b', 'c']);
    assert.equal(coversExactly([{ id: 'a' }, { id: 'b' }, { id: 'c' }], ids), true);
    assert.equal(coversExactly([{ id: 'a' }, { id: 'a' }, { id: 'b' }], ids), false);
    assert.equal(coversExactly([{ id: 'a' }, { id: 'b' }], ids), false);
    assert.equal(coversExactly([{ id: 'a' }, { id: 'b' }, { id: 'x' }], ids), false);
  });

  test('pin the item ids and count and bound reasons; the OpenAI adapter drops the bounds strict mode refuses', () => {
    const schema = answerJsonSchemaFor('label_review', ['w1', 'w2']);
    const reviews = (schema.properties as Record<string, Record<string, unknown>>).reviews!;
    assert.deepEqual([reviews.minItems, reviews.maxItems], [2, 2]);
    const item = reviews.items as { properties: Record<string, Record<string, unknown>> };
    assert.deepEqual(item.properties.id!.enum, ['w1', 'w2']);
    assert.equal(item.properties.reason!.maxLength, REASON_MAX_CHARS);
    assert.ok(outputTokenLimit(schema, 2) < outputTokenLimit(answerJsonSchema('label_review'), 2));
    const strict = JSON.stringify(strictSubset(schema));
    assert.doesNotMatch(strict, /minItems|maxItems|maxLength/);
    assert.match(strict, /"enum":\["w1","w2"\]/);
  });

  test('the Ollama adapter bounds free strings for its grammar, as the output limit assumes', () => {
    const bounded = boundFreeStrings(answerJsonSchema('place_enrichment'));
    const props = bounded.properties as Record<string, Record<string, unknown>>;
    assert.equal(props.description!.maxLength, FREE_STRING_CHARS);
    assert.equal((props.amenities!.items as Record<string, unknown>).maxLength, FREE_STRING_CHARS);
    assert.equal(props.hasWomenOnlyHours!.maxLength, undefined);
  });
});

describe('LlmClient call path (fakes for provider, limiter and DynamoDB)', () => {
  const schema = z.object({ answer: z.number() });
  const jsonSchema = { type: 'object' };

  function setup(
    script: Array<string | Error | { truncated: string } | 'never'>,
    opts: {
      repairAttempts?: number;
      acquire?: () => Promise<Permit>;
      callTimeoutMs?: number;
      provider?: LlmProvider;
    } = {},
  ) {
    const events: string[] = [];
    const latencies: number[] = [];
    const requests: ChatRequest[] = [];
    const permit: Permit = {
      slot: 0,
      holder: 'h',
      heldAtAcquire: 1,
      inFlightAtStart: 1,
      allowedAtAcquire: 4,
      acquiredAt: 0,
      leaseUntil: Date.now() + 60_000,
      handoffs: 0,
    };
    const limiter = {
      opts: { leaseMs: 30_000, skewMarginMs: 2000 },
      reserveTokens: async (n: number) => (events.push(`reserve ${n}`), 7),
      reconcileTokens: async (minute: number | undefined, delta: number) =>
        void events.push(`reconcile ${minute} ${delta}`),
      acquire: opts.acquire ?? (async () => (events.push('acquire'), permit)),
      release: async () => void events.push('release'),
      renew: async () => true,
      recordSuccess: async () => void events.push('success'),
      recordRateLimited: async (p?: Permit) => void events.push(`rateLimited ${p === permit}`),
      observeLatency: (_p: Permit, x: { latencyMs: number }) => void latencies.push(x.latencyMs),
    };
    const provider: LlmProvider = {
      name: 'ollama',
      async chat(req: ChatRequest): Promise<ChatResult> {
        requests.push({ ...req, messages: [...req.messages] });
        const next = script.shift();
        if (next === undefined) throw new Error('script exhausted');
        if (next instanceof Error) throw next;
        if (next === 'never') return new Promise<ChatResult>(() => undefined); // ignores its signal too
        if (typeof next === 'object')
          return {
            content: next.truncated,
            truncated: true,
            promptTokens: 10,
            completionTokens: 5,
            model: 'm',
          };
        return { content: next, truncated: false, promptTokens: 10, completionTokens: 5, model: 'm' };
      },
      embed: () => Promise.reject(new Error('unused')),
    };
    const ddb = fakeDdb();
    const client = new LlmClient({
      provider: opts.provider ?? provider,
      limiter: limiter as unknown as GlobalLimiter,
      cache: new LlmCache(ddb.client, 't', 3600),
      metrics: new LlmMetrics(),
      prices: {},
      ddb: ddb.client,
      table: 't',
      model: 'm',
      embeddingModel: 'e',
      repairAttempts: opts.repairAttempts ?? 2,
      callTimeoutMs: opts.callTimeoutMs ?? 10_000,
    });
    const call = (callId: string, extra: { noCache?: boolean; signal?: AbortSignal } = {}) =>
      client.structured({
        runId: 'run',
        callId,
        task: 'sum',
        messages: [{ role: 'user', content: 'x'.repeat(40) }],
        schema,
        jsonSchema,
        ...extra,
      });
    return { events, latencies, requests, ddb, call };
  }

  test('an invalid answer is repaired: the model sees its answer and the problem', async () => {
    const f = setup(['{"answer":"four"}', '{"answer":4}']);
    const { value, record } = await f.call('c1');
    assert.deepEqual(value, { answer: 4 });
    assert.equal(record.status, 'ok');
    assert.equal(record.providerRequests, 2);
    assert.deepEqual([record.promptTokens, record.completionTokens], [20, 10]);
    const repair = f.requests[1]!.messages;
    assert.equal(repair.length, 3);
    assert.deepEqual(repair[1], { role: 'assistant', content: '{"answer":"four"}' });
    assert.match(repair[2]!.content, /answer: .*Answer again with only JSON/);
    // 210 tokens were reserved (40 chars / 4 + 200); 30 were used.
    assert.deepEqual(f.events, ['reserve 210', 'acquire', 'release', 'success', 'reconcile 7 -180']);
    assert.equal(f.ddb.items.get('RUN#run|CALL#c1')?.status, 'ok');
    assert.equal([...f.ddb.items.keys()].filter((k) => k.startsWith('LLMCACHE#')).length, 1);
  });

  test('every request carries an output-token limit; an answer cut by it is repaired, then a recorded failure', async () => {
    const f = setup([{ truncated: '{"answer":' }, { truncated: '{"ans' }], { repairAttempts: 1 });
    await assert.rejects(
      f.call('cut'),
      (e: Error) =>
        e instanceof LlmInvalidAnswerError && /cut at the output limit of \d+ tokens/.test(e.message),
    );
    const limit = f.requests[0]!.maxOutputTokens;
    assert.ok(limit && limit >= 64, `a limit was sent: ${limit}`);
    assert.equal(f.requests[1]!.maxOutputTokens, limit);
    assert.match(f.requests[1]!.messages.at(-1)!.content, /shorter/);
    const rec = f.ddb.items.get('RUN#run|CALL#cut');
    assert.equal(rec?.status, 'invalid_answer');
    assert.equal(rec?.maxOutputTokens, limit);
    assert.equal(rec?.truncatedRequests, 2);
    assert.deepEqual(f.latencies.length, 2, 'both answers were latency samples');
  });

  test('a provider that never answers (and ignores its abort signal) ends at LLM_CALL_TIMEOUT_MS', async () => {
    const f = setup(['never'], { callTimeoutMs: 200 });
    await assert.rejects(
      f.call('hang'),
      (e: Error) => e instanceof LlmCallTimeoutError && /200 ms/.test(e.message),
    );
    const rec = f.ddb.items.get('RUN#run|CALL#hang');
    assert.equal(rec?.status, 'error');
    assert.equal(rec?.timedOut, true);
    assert.ok(f.events.includes('release'), 'the permit went back');
    assert.deepEqual(f.latencies, [200], 'the limiter heard the provider took at least the timeout');
  });

  for (const kind of ['ollama', 'openai'] as const) {
    test(`a real ${kind} SDK request to a server that accepts and never answers ends at LLM_CALL_TIMEOUT_MS`, async () => {
      const sockets = new Set<net.Socket>();
      const server = http.createServer(() => undefined); // reads the request, never answers
      server.on('connection', (s) => sockets.add(s));
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      const url = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
      try {
        const provider =
          kind === 'ollama' ? new OllamaProvider(url) : new OpenAiProvider(`${url}/v1`, 'k', 600_000);
        const f = setup([], { callTimeoutMs: 300, provider });
        await assert.rejects(f.call(`hang-${kind}`), LlmCallTimeoutError);
        assert.equal(f.ddb.items.get(`RUN#run|CALL#hang-${kind}`)?.timedOut, true);
      } finally {
        for (const s of sockets) s.destroy();
        await new Promise((r) => server.close(r));
      }
    });
  }

  test('still invalid after the repairs: a recorded invalid_answer, nothing cached', async () => {
    const f = setup(['nope', '{"answer":null}'], { repairAttempts: 1 });
    await assert.rejects(
      f.call('c2'),
      (e: Error) => e instanceof LlmInvalidAnswerError && /2 attempts/.test(e.message),
    );
    const rec = f.ddb.items.get('RUN#run|CALL#c2');
    assert.equal(rec?.status, 'invalid_answer');
    assert.equal(rec?.providerRequests, 2);
    assert.ok(f.events.includes('release'));
    assert.equal([...f.ddb.items.keys()].filter((k) => k.startsWith('LLMCACHE#')).length, 0);
  });

  test('a 429 lowers the shared limit before the permit is released', async () => {
    const f = setup([new LlmRateLimitedError(429, 2000, 'refused')]);
    await assert.rejects(f.call('c3'), LlmRateLimitedError);
    assert.deepEqual(f.events, ['reserve 210', 'acquire', 'rateLimited true', 'release', 'reconcile 7 -210']);
    assert.equal(f.ddb.items.get('RUN#run|CALL#c3')?.status, 'rate_limited');
  });

  test('a transient error releases the permit and is recorded as an error, without touching the limit', async () => {
    const f = setup([new LlmTransientError(502, 'bad gateway')]);
    await assert.rejects(f.call('c4'), LlmTransientError);
    assert.deepEqual(f.events, ['reserve 210', 'acquire', 'release', 'reconcile 7 -210']);
    assert.equal(f.ddb.items.get('RUN#run|CALL#c4')?.status, 'error');
  });

  test('a cached answer costs no permit and no provider request; noCache skips the cache and refreshes it', async () => {
    const f = setup(['{"answer":1}', '{"answer":2}']);
    await f.call('first');
    f.events.length = 0;
    const hit = await f.call('second');
    assert.deepEqual(hit.value, { answer: 1 });
    assert.equal(hit.record.status, 'cache_hit');
    assert.deepEqual(f.events, []);
    const fresh = await f.call('third', { noCache: true });
    assert.deepEqual(fresh.value, { answer: 2 });
    assert.equal(fresh.record.status, 'ok');
    assert.equal(f.requests.length, 2);
    const refreshed = await f.call('fourth');
    assert.deepEqual(refreshed.value, { answer: 2 }, 'the no-cache answer replaced the cached one');
    assert.equal(f.requests.length, 2);
  });

  test('two identical calls at once: one provider request, one ok and one cache_hit record', async () => {
    const f = setup(['{"answer":3}']);
    const [a, b] = await Promise.all([f.call('a'), f.call('b')]);
    assert.deepEqual([a.value, b.value], [{ answer: 3 }, { answer: 3 }]);
    assert.deepEqual([a.record.status, b.record.status].sort(), ['cache_hit', 'ok']);
    assert.equal(f.requests.length, 1);
  });

  test('cancelled while waiting for a permit: the token reservation is given back', async () => {
    const abort = new AbortController();
    const f = setup([], {
      acquire: () =>
        new Promise<Permit>((_, reject) =>
          abort.signal.addEventListener('abort', () => reject(abort.signal.reason as Error)),
        ),
    });
    const pending = f.call('c5', { signal: abort.signal });
    await new Promise((r) => setTimeout(r, 10));
    abort.abort();
    await assert.rejects(pending, { name: 'AbortError' });
    assert.deepEqual(f.events, ['reserve 210', 'reconcile 7 -210']);
    assert.equal(f.requests.length, 0);
  });
});

/** A DynamoDB document client that keeps items in a Map (what the cache and the client use, one table). */
function fakeDdb() {
  const items = new Map<string, Record<string, unknown>>();
  const id = (k: Record<string, unknown>) => `${String(k.PK)}|${String(k.SK)}`;
  type Batch = Record<string, Array<{ PutRequest: { Item: Record<string, unknown> } }>>;
  const client = {
    async send(cmd: { constructor: { name: string }; input: Record<string, unknown> }) {
      const input = cmd.input as { Item?: Record<string, unknown>; Key?: Record<string, unknown> };
      if (cmd.constructor.name === 'PutCommand') {
        items.set(id(input.Item!), input.Item!);
        return {};
      }
      if (cmd.constructor.name === 'GetCommand') return { Item: items.get(id(input.Key!)) };
      if (cmd.constructor.name === 'BatchWriteCommand') {
        for (const r of Object.values(cmd.input.RequestItems as Batch).flat())
          items.set(id(r.PutRequest.Item), r.PutRequest.Item);
        return {};
      }
      throw new Error(`fake DynamoDB does not do ${cmd.constructor.name}`);
    },
  };
  return { items, client: client as unknown as ConstructorParameters<typeof LlmCache>[0] };
}
