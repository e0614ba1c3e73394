// Embedding calls (the label harmonizer's realtime path): answer ledger and per-text vector cache
// (one read), then only the texts without a cached vector go to the provider under a permit; the
// paid vectors go into the ledger with their cache entries and call record (one write where they
// fit, call-bookkeeping.ts), everything but the ledger best effort.
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { CallRecord } from './accounting';
import type { AnswerLedger, LedgerCall } from './answer-ledger';
import { type LlmCache, cacheKey } from './cache';
import { keepPaidCall, readStoredVectors } from './call-bookkeeping';
import { type CallIdentity, type CallRecorder, statusOf } from './call-records';
import { LlmInvalidAnswerError } from './errors';
import {
  type PermitCallDeps,
  afterFailedRequest,
  holdPermit,
  observeLatency,
  timedRequest,
} from './permit-call';
import type { LlmProvider } from './types';
import type { Permit } from './limiter';

export interface EmbedCallInput extends LedgerCall {
  texts: string[];
  /** Do not answer from the cache (the fresh vectors still refresh it). */
  noCache?: boolean;
  signal?: AbortSignal;
  heartbeat?: () => void;
  /** Runs once the permit is held, before the request; throwing sends nothing (breaker.ts). */
  beforeSend?: (permit: Permit) => Promise<void>;
  /** Told of a failed call before its permit goes back, so the next holder sees what it opened. */
  onFailure?: (err: unknown) => Promise<void>;
}

export interface EmbedCallDeps extends PermitCallDeps {
  provider: LlmProvider;
  ddb: DynamoDBDocumentClient;
  table: string;
  cache: LlmCache;
  ledger?: AnswerLedger;
  embeddingModel: string;
}

export async function embedTexts(
  deps: EmbedCallDeps,
  records: CallRecorder,
  input: EmbedCallInput,
): Promise<number[][]> {
  const started = Date.now();
  const identity: CallIdentity = { runId: input.runId, callId: input.callId, task: 'embed' };
  const model = { provider: deps.provider.name, model: deps.embeddingModel };
  const key = cacheKey({ ...model, messages: input.texts, params: 'embedding' });
  // The ledger is read whether or not the cache is: vectors this logical call paid for are reused.
  const { paid, cached } = await readStoredVectors(
    deps,
    input,
    key,
    { model, texts: input.texts },
    !input.noCache,
  );
  if (paid?.vectors?.length === input.texts.length) {
    await records.replayed(identity, paid, started);
    return paid.vectors;
  }
  if (cached.every((v) => v !== undefined)) {
    const record = records.record(identity, 'cache_hit', started, 0, 0, 0, deps.embeddingModel);
    await records.save(record).catch(() => undefined);
    return cached;
  }
  return embedFromProvider(deps, records, input, { identity, key, cached, started });
}

/** Sends the texts without a cached vector under a permit; keeps the paid answer first. */
async function embedFromProvider(
  deps: EmbedCallDeps,
  records: CallRecorder,
  input: EmbedCallInput,
  call: { identity: CallIdentity; key: string; cached: Array<number[] | undefined>; started: number },
): Promise<number[][]> {
  const missing = input.texts.flatMap((_, i) => (call.cached[i] ? [] : [i]));
  const texts = missing.map((i) => input.texts[i]!);
  const permit = await deps.limiter.acquire(input.signal, input.heartbeat);
  try {
    await input.beforeSend?.(permit);
  } catch (err) {
    await deps.limiter.release(permit).catch(() => undefined);
    throw err;
  }
  const held = holdPermit(deps, permit, input.heartbeat);
  let answered: CallRecord | undefined;
  try {
    const requestStarted = Date.now();
    const res = await timedRequest(deps, permit, held, input.signal, (signal) =>
      deps.provider.embed(deps.embeddingModel, texts, signal),
    );
    answered = records.record(call.identity, 'ok', call.started, res.promptTokens, 0, 1, res.model);
    observeLatency(deps.limiter, permit, {
      latencyMs: Date.now() - requestStarted,
      promptTokens: res.promptTokens,
      completionTokens: 0,
    });
    if (res.vectors.length !== texts.length)
      throw new LlmInvalidAnswerError(
        `Embedding answer has ${res.vectors.length} vectors for ${texts.length} texts`,
      );
    const vectors = input.texts.map((_, i) => call.cached[i]!);
    missing.forEach((textIndex, j) => (vectors[textIndex] = res.vectors[j]!));
    // Paid for: kept with its cache entries and record, and nothing here may fail the call.
    const model = { provider: deps.provider.name, model: deps.embeddingModel };
    const paid = {
      requestKey: call.key,
      paidByCallId: input.callId,
      vectors,
      promptTokens: res.promptTokens,
      completionTokens: 0,
      providerRequests: 1,
      latencyMs: answered.latencyMs,
      model: res.model,
      at: call.started,
    };
    await Promise.allSettled([
      keepPaidCall(deps, records, input, {
        paid,
        record: answered,
        vectors: { model, texts, vectors: res.vectors },
      }),
      held.release(),
    ]);
    await deps.limiter.recordSuccess(permit).catch(() => undefined);
    return vectors;
  } catch (err) {
    await input.onFailure?.(err).catch(() => undefined);
    await afterFailedRequest(deps.limiter, err, permit, held);
    const failed =
      answered ?? records.record(call.identity, 'ok', call.started, 0, 0, 1, deps.embeddingModel);
    await records.save({ ...failed, status: statusOf(err) }).catch(() => undefined);
    throw err;
  } finally {
    await held.release().catch(() => undefined);
  }
}
