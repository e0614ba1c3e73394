// The shared LLM layer every pipeline calls: cache -> token budget -> global permit -> provider
// -> schema validation with bounded repair -> accounting. Errors come out typed (errors.ts).
import { PutCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { z } from 'zod';
import { type CallRecord, type CallStatus, type LlmMetrics, type PriceTable, costOf } from './accounting';
import { type LlmCache, cacheKey } from './cache';
import { LlmCallTimeoutError, withDeadline } from './deadline';
import { LlmInvalidAnswerError, LlmRateLimitedError, LlmFatalError, LlmBudgetExhaustedError } from './errors';
import type { GlobalLimiter, Permit } from './limiter';
import { outputTokenLimit } from './output-limit';
import type { ChatMessage, LlmProvider } from './types';

export interface LlmClientDeps {
  provider: LlmProvider;
  limiter: GlobalLimiter;
  cache: LlmCache;
  metrics: LlmMetrics;
  prices: PriceTable;
  ddb: DynamoDBDocumentClient;
  table: string;
  model: string;
  embeddingModel: string;
  repairAttempts: number;
  /** LLM_CALL_TIMEOUT_MS: the most one provider request may take, whatever the HTTP client does. */
  callTimeoutMs: number;
}

export interface StructuredCallInput<T> {
  runId: string;
  /** Unique per activity attempt (activityId + attempt) so a record is written once per attempt. */
  callId: string;
  task: string;
  messages: ChatMessage[];
  schema: z.ZodType<T>;
  jsonSchema: Record<string, unknown>;
  /** Items the answer covers (sizes the output-token limit from the schema). @default 1 */
  itemCount?: number;
  /** Output-token limit of each request; derived from `jsonSchema` and `itemCount` when unset. */
  maxOutputTokens?: number;
  /** Do not answer from the cache (the fresh answer still refreshes it). */
  noCache?: boolean;
  fairnessKey?: string;
  signal?: AbortSignal;
  /** Called while waiting for a permit and during the call: the activity heartbeats here. */
  heartbeat?: () => void;
}

export interface StructuredCallResult<T> {
  value: T;
  record: CallRecord;
}

/** Roughly 4 characters a token: only the budget's up-front estimate; usage reconciles it. */
export function estimateTokens(messages: ChatMessage[]): number {
  return Math.ceil(messages.reduce((n, m) => n + m.content.length, 0) / 4) + 200;
}

const HEARTBEAT_EVERY_MS = 2000;

export class LlmClient {
  constructor(private readonly deps: LlmClientDeps) {}

  async structured<T>(input: StructuredCallInput<T>): Promise<StructuredCallResult<T>> {
    const { deps } = this;
    const key = cacheKey({
      provider: deps.provider.name,
      model: deps.model,
      messages: input.messages,
      schema: input.jsonSchema,
      params: { temperature: 0 },
    });
    const started = Date.now();
    if (!input.noCache) {
      const hit = await deps.cache.get(key);
      const parsed = hit && safeParseJson(hit.content, input.schema);
      if (parsed && parsed.ok) {
        const record = this.record(input, 'cache_hit', started, 0, 0, 0, hit.model);
        await this.saveRecord(record);
        return { value: parsed.value, record };
      }
    }
    const run = () => this.callProvider(input, key, started);
    // Coalescing shares one provider call between identical concurrent requests in this process.
    const { promise, shared } = input.noCache
      ? { promise: run(), shared: false }
      : deps.cache.coalesce(key, run);
    // A caller sharing another call's request keeps its own activity heartbeating while it waits.
    const beat = shared ? setInterval(() => input.heartbeat?.(), HEARTBEAT_EVERY_MS) : undefined;
    const result = await promise.finally(() => clearInterval(beat));
    if (!shared) return result;
    const record = this.record(input, 'cache_hit', started, 0, 0, 0, result.record.model);
    await this.saveRecord(record);
    return { value: result.value, record };
  }

  private async callProvider<T>(
    input: StructuredCallInput<T>,
    key: string,
    started: number,
  ): Promise<StructuredCallResult<T>> {
    const { deps } = this;
    const estimate = estimateTokens(input.messages);
    let minute: number | undefined;
    try {
      minute = await deps.limiter.reserveTokens(estimate);
    } catch (err) {
      if (err instanceof LlmBudgetExhaustedError)
        await this.saveRecord(this.record(input, 'rate_limited', started, 0, 0, 0, deps.model));
      throw err;
    }
    let permit: Permit;
    try {
      permit = await deps.limiter.acquire(input.signal, input.heartbeat);
    } catch (err) {
      // Cancelled or timed out while waiting: nothing was sent, so the reservation goes back.
      await deps.limiter.reconcileTokens(minute, -estimate).catch(() => undefined);
      throw err;
    }
    const { release } = this.holdPermit(permit, input.heartbeat);
    const maxOutputTokens = input.maxOutputTokens ?? outputTokenLimit(input.jsonSchema, input.itemCount);
    const usage = { promptTokens: 0, completionTokens: 0, requests: 0, truncated: 0, model: deps.model };
    const callStarted = Date.now();
    const recordOf = (status: CallStatus, extra: Partial<CallRecord> = {}): CallRecord => ({
      ...this.record(
        input,
        status,
        started,
        usage.promptTokens,
        usage.completionTokens,
        Math.max(usage.requests, 1),
        usage.model,
        Date.now() - callStarted,
      ),
      maxOutputTokens,
      ...(usage.truncated ? { truncatedRequests: usage.truncated } : {}),
      ...extra,
    });
    try {
      const messages = [...input.messages];
      for (let attempt = 0; ; attempt++) {
        usage.requests++;
        const requestStarted = Date.now();
        const res = await this.timed(permit, input.signal, (signal) =>
          deps.provider.chat(
            {
              model: deps.model,
              messages,
              jsonSchema: input.jsonSchema,
              schemaName: input.task,
              maxOutputTokens,
            },
            signal,
          ),
        );
        deps.limiter.observeLatency(permit, {
          latencyMs: Date.now() - requestStarted,
          promptTokens: res.promptTokens,
          completionTokens: res.completionTokens,
        });
        usage.promptTokens += res.promptTokens;
        usage.completionTokens += res.completionTokens;
        usage.model = res.model || usage.model;
        if (res.truncated) usage.truncated++;
        const parsed: ReturnType<typeof safeParseJson<T>> = res.truncated
          ? { ok: false, error: `the answer was cut at the output limit of ${maxOutputTokens} tokens` }
          : safeParseJson(res.content, input.schema);
        if (parsed.ok) {
          const record = recordOf('ok');
          // The answer is paid for: nothing after it may fail the call (a retry would pay again).
          // Caching it, recording it, and giving the permit back go at once, each best effort.
          await Promise.allSettled([
            deps.cache.put(key, {
              content: res.content,
              promptTokens: usage.promptTokens,
              completionTokens: usage.completionTokens,
              model: usage.model,
            }),
            this.saveRecord(record),
            release(),
          ]);
          await Promise.allSettled([
            deps.limiter.recordSuccess(permit),
            deps.limiter.reconcileTokens(minute, usage.promptTokens + usage.completionTokens - estimate),
          ]);
          return { value: parsed.value, record };
        }
        if (attempt >= deps.repairAttempts) {
          throw new LlmInvalidAnswerError(
            `LLM answer for ${input.task} is not valid for its schema after ${attempt + 1} attempts: ${parsed.error}`,
          );
        }
        messages.push(...repairMessages(res.content, parsed.error, res.truncated));
      }
    } catch (err) {
      // A refusal lowers the shared limit while this permit is still held: released first, its
      // slot could go to a waiter whose call the provider would refuse too.
      if (err instanceof LlmRateLimitedError)
        await deps.limiter.recordRateLimited(permit).catch(() => undefined);
      await release().catch(() => undefined);
      await deps.limiter
        .reconcileTokens(minute, usage.promptTokens + usage.completionTokens - estimate)
        .catch(() => undefined);
      await this.saveRecord(
        recordOf(statusOf(err), err instanceof LlmCallTimeoutError ? { timedOut: true } : {}),
      ).catch(() => undefined);
      throw err;
    } finally {
      await release().catch(() => undefined);
    }
  }

  /**
   * One provider request under LLM_CALL_TIMEOUT_MS. A request that times out tells the limiter the
   * provider took at least that long (a queueing provider's strongest congestion signal).
   */
  private async timed<R>(
    permit: Permit,
    signal: AbortSignal | undefined,
    request: (signal: AbortSignal) => Promise<R>,
  ): Promise<R> {
    try {
      return await withDeadline(this.deps.callTimeoutMs, signal, request);
    } catch (err) {
      if (err instanceof LlmCallTimeoutError)
        this.deps.limiter.observeLatency(permit, {
          latencyMs: err.timeoutMs,
          promptTokens: 0,
          completionTokens: 0,
        });
      throw err;
    }
  }

  /** Embeds texts through the same permit and accounting path (used by harmonizer/embedding). */
  async embed(input: {
    runId: string;
    callId: string;
    texts: string[];
    signal?: AbortSignal;
    heartbeat?: () => void;
  }) {
    const { deps } = this;
    const started = Date.now();
    const permit = await deps.limiter.acquire(input.signal, input.heartbeat);
    const { release } = this.holdPermit(permit, input.heartbeat);
    try {
      const res = await this.timed(permit, input.signal, (signal) =>
        deps.provider.embed(deps.embeddingModel, input.texts, signal),
      );
      deps.limiter.observeLatency(permit, {
        latencyMs: Date.now() - started,
        promptTokens: res.promptTokens,
        completionTokens: 0,
      });
      const record: CallRecord = {
        runId: input.runId,
        callId: input.callId,
        task: 'embed',
        status: 'ok',
        providerRequests: 1,
        latencyMs: Date.now() - started,
        promptTokens: res.promptTokens,
        completionTokens: 0,
        costUsd: costOf(deps.prices, res.model, res.promptTokens, 0),
        model: res.model,
        at: started,
      };
      await Promise.allSettled([release(), this.saveRecord(record)]);
      await deps.limiter.recordSuccess(permit).catch(() => undefined);
      return res.vectors;
    } catch (err) {
      if (err instanceof LlmRateLimitedError)
        await deps.limiter.recordRateLimited(permit).catch(() => undefined);
      throw err;
    } finally {
      await release().catch(() => undefined);
    }
  }

  /**
   * Keeps a permit's lease alive (and the activity heartbeating) while its call runs; `release`
   * gives it back once, however many paths call it.
   */
  private holdPermit(permit: Permit, heartbeat?: () => void): { release: () => Promise<void> } {
    const { deps } = this;
    // Heartbeats every 2 s (the SDK throttles them) so a dead worker's attempt is noticed within the
    // activity's short heartbeat timeout; the lease is renewed at a third of its length.
    const beat = setInterval(() => heartbeat?.(), HEARTBEAT_EVERY_MS);
    const renewal = setInterval(
      () => void deps.limiter.renew(permit).catch(() => undefined),
      Math.max(1000, deps.limiter.opts.leaseMs / 3),
    );
    deps.metrics.inFlight++;
    let released = false;
    return {
      release: async () => {
        if (released) return;
        released = true;
        clearInterval(renewal);
        clearInterval(beat);
        deps.metrics.inFlight--;
        await deps.limiter.release(permit);
      },
    };
  }

  private record(
    input: Pick<StructuredCallInput<unknown>, 'runId' | 'callId' | 'task' | 'fairnessKey'>,
    status: CallStatus,
    started: number,
    promptTokens: number,
    completionTokens: number,
    providerRequests: number,
    model: string,
    latencyMs = Date.now() - started,
  ): CallRecord {
    return {
      runId: input.runId,
      callId: input.callId,
      task: input.task,
      ...(input.fairnessKey ? { fairnessKey: input.fairnessKey } : {}),
      status,
      providerRequests,
      latencyMs,
      promptTokens,
      completionTokens,
      costUsd: costOf(this.deps.prices, model, promptTokens, completionTokens),
      model,
      at: started,
    };
  }

  /** One record per call attempt, in the run's partition (overwrites the same attempt's record). */
  private async saveRecord(record: CallRecord): Promise<void> {
    this.deps.metrics.observe(record);
    await this.deps.ddb.send(
      new PutCommand({
        TableName: this.deps.table,
        Item: { PK: `RUN#${record.runId}`, SK: `CALL#${record.callId}`, ...record },
      }),
    );
  }
}

export function safeParseJson<T>(
  content: string,
  schema: z.ZodType<T>,
): { ok: true; value: T } | { ok: false; error: string } {
  let json: unknown;
  try {
    json = JSON.parse(content);
  } catch (err) {
    return { ok: false, error: `not JSON: ${(err as Error).message}` };
  }
  const r = schema.safeParse(json);
  if (r.success) return { ok: true, value: r.data };
  return { ok: false, error: r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ') };
}

function statusOf(err: unknown): CallStatus {
  if (err instanceof LlmRateLimitedError) return 'rate_limited';
  if (err instanceof LlmInvalidAnswerError) return 'invalid_answer';
  if (err instanceof LlmFatalError) return 'fatal';
  return 'error';
}

/** Re-asks a model whose answer failed its schema: its answer, what was wrong, and how to fix it. */
function repairMessages(content: string, error: string, truncated: boolean): ChatMessage[] {
  const fix = truncated
    ? 'Answer again, shorter: only JSON valid for the schema, each reason under 12 words.'
    : 'Answer again with only JSON valid for the schema.';
  return [
    { role: 'assistant', content: content.slice(0, 4000) },
    { role: 'user', content: `That answer is invalid (${error.slice(0, 500)}). ${fix}` },
  ];
}
