// The shared LLM layer every pipeline calls: answer ledger and cache (one read) -> token budget ->
// global permit (its lease kept, or the request aborted) -> provider -> schema validation with
// bounded repair -> the paid answer kept in the ledger with its cache entry and call record (one
// write, call-bookkeeping.ts) while the permit goes back. Errors come out typed (errors.ts).
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { z } from 'zod';
import type { CallRecord, CallStatus, LlmMetrics, PriceTable } from './accounting';
import type { AnswerLedger, PaidAnswer } from './answer-ledger';
import { type LlmCache, cacheKey } from './cache';
import { keepPaidCall, readStoredAnswers } from './call-bookkeeping';
import { CallRecorder, statusOf } from './call-records';
import { LlmCallTimeoutError } from './deadline';
import { type EmbedCallInput, embedTexts } from './embed-call';
import { LlmInvalidAnswerError, LlmBudgetExhaustedError } from './errors';
import type { GlobalLimiter, Permit } from './limiter';
import {
  HEARTBEAT_EVERY_MS,
  afterFailedRequest,
  holdPermit,
  observeLatency,
  timedRequest,
} from './permit-call';
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
  /** Paid answers by logical call; without it, calls without `answerId`, a retry may pay again. */
  ledger?: AnswerLedger;
}

/** Ids of one call: the attempt (`callId`, one record each) and the logical call (`answerId`). */
export interface CallIds {
  /** Unique per activity attempt (activityId + attempt) so a record is written once per attempt. */
  callId: string;
  /**
   * The logical call, the same on every attempt (workflow run + activity + which call in it): its
   * paid answer is kept in the answer ledger and a retry reuses it instead of paying again.
   */
  answerId?: string;
}

export interface StructuredCallInput<T> extends CallIds {
  runId: string;
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
  /** Runs once the permit is held, before the first request; throwing sends nothing (breaker.ts). */
  beforeSend?: (permit: Permit) => Promise<void>;
  /** Told of a failed call before its permit goes back, so the next holder sees what it opened. */
  onFailure?: (err: unknown) => Promise<void>;
}

export interface StructuredCallResult<T> {
  value: T;
  record: CallRecord;
}

export type { EmbedCallInput };

/** Roughly 4 characters a token: only the budget's up-front estimate; usage reconciles it. */
export function estimateTokens(messages: ChatMessage[]): number {
  return Math.ceil(messages.reduce((n, m) => n + m.content.length, 0) / 4) + 200;
}

/**
 * The cache key of a structured call: everything that shapes its answer. Batch mode writes the
 * answers of its batch jobs under it, so the realtime call of the same prompt is served from them.
 */
export function structuredCacheKey(
  provider: string,
  model: string,
  messages: ChatMessage[],
  jsonSchema: Record<string, unknown>,
): string {
  return cacheKey({ provider, model, messages, schema: jsonSchema, params: { temperature: 0 } });
}

export class LlmClient {
  private readonly records: CallRecorder;

  constructor(private readonly deps: LlmClientDeps) {
    this.records = new CallRecorder(deps);
  }

  async structured<T>(input: StructuredCallInput<T>): Promise<StructuredCallResult<T>> {
    const { deps } = this;
    const key = structuredCacheKey(deps.provider.name, deps.model, input.messages, input.jsonSchema);
    const started = Date.now();
    // The ledger is read whether or not the cache is: an answer this logical call paid for is reused.
    const { paid, hit } = await readStoredAnswers(deps, input, key, !input.noCache);
    const replay = paid?.content !== undefined ? safeParseJson(paid.content, input.schema) : undefined;
    if (paid && replay?.ok)
      return { value: replay.value, record: await this.records.replayed(input, paid, started) };
    const parsed = hit && safeParseJson(hit.content, input.schema);
    if (parsed && parsed.ok) {
      const record = this.records.record(input, 'cache_hit', started, 0, 0, 0, hit.model);
      await this.records.save(record);
      return { value: parsed.value, record };
    }
    const run = () => this.callProvider(input, key, started);
    // Coalescing shares one provider call between identical concurrent requests in this process.
    const { promise, shared } = input.noCache
      ? { promise: run(), shared: false }
      : deps.cache.coalesce(key, run);
    // A caller sharing another call's request keeps its own activity heartbeating while it waits.
    const beat = shared ? setInterval(() => input.heartbeat?.(), HEARTBEAT_EVERY_MS) : undefined;
    const result = await promise.finally(() => clearInterval(beat));
    if (!shared) return { value: result.value, record: result.record };
    // Another call paid; this logical call keeps the answer too, for its retry if the cache fails it.
    const record = this.records.record(input, 'cache_hit', started, 0, 0, 0, result.record.model);
    await keepPaidCall(deps, this.records, input, {
      paid: {
        ...result.paid,
        paidByCallId: input.callId,
        providerRequests: 0,
        promptTokens: 0,
        completionTokens: 0,
      },
      record,
    });
    return { value: result.value, record };
  }

  private async callProvider<T>(
    input: StructuredCallInput<T>,
    key: string,
    started: number,
  ): Promise<StructuredCallResult<T> & { paid: PaidAnswer }> {
    const call = await this.admit(input, key, started);
    try {
      for (let attempt = 0; ; attempt++) {
        const res = await this.request(call);
        const parsed: ReturnType<typeof safeParseJson<T>> = res.truncated
          ? { ok: false, error: `the answer was cut at the output limit of ${call.maxOutputTokens} tokens` }
          : safeParseJson(res.content, input.schema);
        if (parsed.ok) return { value: parsed.value, ...(await this.settlePaid(call, res.content)) };
        if (attempt >= this.deps.repairAttempts) {
          throw new LlmInvalidAnswerError(
            `LLM answer for ${input.task} is not valid for its schema after ${attempt + 1} attempts: ${parsed.error}`,
          );
        }
        call.messages.push(...repairMessages(res.content, parsed.error, res.truncated));
      }
    } catch (err) {
      await this.settleFailed(call, err);
      throw err;
    } finally {
      await call.held.release().catch(() => undefined);
    }
  }

  /** Reserves the token estimate, then waits for a permit (the reservation goes back if it never comes). */
  private async admit<T>(
    input: StructuredCallInput<T>,
    key: string,
    started: number,
  ): Promise<ProviderCall<T>> {
    const { deps } = this;
    const estimate = estimateTokens(input.messages);
    let minute: number | undefined;
    try {
      minute = await deps.limiter.reserveTokens(estimate);
    } catch (err) {
      if (err instanceof LlmBudgetExhaustedError)
        await this.records.save(this.records.record(input, 'rate_limited', started, 0, 0, 0, deps.model));
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
    try {
      await input.beforeSend?.(permit);
    } catch (err) {
      await deps.limiter.release(permit).catch(() => undefined);
      await deps.limiter.reconcileTokens(minute, -estimate).catch(() => undefined);
      throw err;
    }
    return {
      input,
      key,
      started,
      estimate,
      minute,
      permit,
      held: holdPermit(deps, permit, input.heartbeat),
      maxOutputTokens: input.maxOutputTokens ?? outputTokenLimit(input.jsonSchema, input.itemCount),
      usage: { promptTokens: 0, completionTokens: 0, requests: 0, truncated: 0, model: deps.model },
      callStarted: Date.now(),
      messages: [...input.messages],
    };
  }

  /** One provider request under the call's permit, its usage counted and its latency observed. */
  private async request<T>(call: ProviderCall<T>) {
    const { deps } = this;
    const { usage, permit } = call;
    usage.requests++;
    const requestStarted = Date.now();
    const res = await timedRequest(deps, permit, call.held, call.input.signal, (signal) =>
      deps.provider.chat(
        {
          model: deps.model,
          messages: call.messages,
          jsonSchema: call.input.jsonSchema,
          schemaName: call.input.task,
          maxOutputTokens: call.maxOutputTokens,
        },
        signal,
      ),
    );
    usage.promptTokens += res.promptTokens;
    usage.completionTokens += res.completionTokens;
    usage.model = res.model || usage.model;
    if (res.truncated) usage.truncated++;
    if (res.queuedMs !== undefined) usage.queuedMs = (usage.queuedMs ?? 0) + res.queuedMs;
    observeLatency(deps.limiter, permit, {
      latencyMs: Date.now() - requestStarted,
      promptTokens: res.promptTokens,
      completionTokens: res.completionTokens,
      queuedMs: res.queuedMs,
    });
    return res;
  }

  /**
   * The answer is paid for: kept in the ledger (a retry of this logical call reuses it, cache or not)
   * in the same write as its cache entry and call record, while the permit goes back; nothing here
   * may fail the call. The limiter learns of the success once both are done.
   */
  private async settlePaid<T>(call: ProviderCall<T>, content: string) {
    const { deps } = this;
    const { usage, input } = call;
    const record = this.recordOf(call, 'ok');
    const paid: PaidAnswer = {
      requestKey: call.key,
      paidByCallId: input.callId,
      content,
      promptTokens: usage.promptTokens,
      completionTokens: usage.completionTokens,
      providerRequests: usage.requests,
      latencyMs: record.latencyMs,
      model: usage.model,
      at: call.started,
    };
    const answer = { content, promptTokens: usage.promptTokens, completionTokens: usage.completionTokens };
    await Promise.allSettled([
      keepPaidCall(deps, this.records, input, { paid, record, cache: { ...answer, model: usage.model } }),
      call.held.release(),
    ]);
    await Promise.allSettled([
      deps.limiter.recordSuccess(call.permit),
      deps.limiter.reconcileTokens(call.minute, usage.promptTokens + usage.completionTokens - call.estimate),
    ]);
    return { record, paid };
  }

  /** A failed call: the limiter learns from it, the token estimate is corrected, the attempt recorded. */
  private async settleFailed<T>(call: ProviderCall<T>, err: unknown): Promise<void> {
    const { deps } = this;
    const { usage } = call;
    await call.input.onFailure?.(err).catch(() => undefined);
    await afterFailedRequest(deps.limiter, err, call.permit, call.held);
    await deps.limiter
      .reconcileTokens(call.minute, usage.promptTokens + usage.completionTokens - call.estimate)
      .catch(() => undefined);
    await this.records
      .save(this.recordOf(call, statusOf(err), err instanceof LlmCallTimeoutError ? { timedOut: true } : {}))
      .catch(() => undefined);
  }

  private recordOf<T>(
    call: ProviderCall<T>,
    status: CallStatus,
    extra: Partial<CallRecord> = {},
  ): CallRecord {
    const { usage } = call;
    return {
      ...this.records.record(
        call.input,
        status,
        call.started,
        usage.promptTokens,
        usage.completionTokens,
        Math.max(usage.requests, 1),
        usage.model,
        Date.now() - call.callStarted,
      ),
      maxOutputTokens: call.maxOutputTokens,
      ...(usage.truncated ? { truncatedRequests: usage.truncated } : {}),
      ...(usage.queuedMs !== undefined ? { providerQueuedMs: Math.round(usage.queuedMs) } : {}),
      ...extra,
    };
  }

  /** Embeds texts through the same ledger, permit and accounting path (embed-call.ts). */
  async embed(input: EmbedCallInput): Promise<number[][]> {
    return embedTexts(this.deps, this.records, input);
  }
}

/** One structured call on its way to the provider: its permit, budget reservation and usage so far. */
interface ProviderCall<T> {
  input: StructuredCallInput<T>;
  key: string;
  started: number;
  estimate: number;
  minute: number | undefined;
  permit: Permit;
  held: ReturnType<typeof holdPermit>;
  maxOutputTokens: number;
  usage: {
    promptTokens: number;
    completionTokens: number;
    requests: number;
    truncated: number;
    model: string;
    /** What the provider reported of the requests' waits for a slot (Ollama), summed. */
    queuedMs?: number;
  };
  callStarted: number;
  messages: ChatMessage[];
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
