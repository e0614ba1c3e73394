// The LLM layer on the real stack for call-level tests: an own table on dynalite, an own emulator,
// a real LlmClient (real limiter, cache, answer ledger, provider adapter), and faults injected
// into the real DynamoDB client where a test asks for them.
import { z } from 'zod';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { type AppConfig, loadConfig } from '../../src/config';
import { startEmulator, type EmulatorHandle, type StartEmulatorOptions } from '../../dev/emulator/server';
import { LlmMetrics, parsePrices } from '../../src/llm/accounting';
import { AnswerLedger } from '../../src/llm/answer-ledger';
import { LlmCache } from '../../src/llm/cache';
import { GlobalLimiter, type LimiterOptions } from '../../src/llm/limiter';
import { LlmClient, type LlmClientDeps } from '../../src/llm/llm-client';
import { createProvider } from '../../src/llm/providers';
import { createDynamoClient } from '../../src/stores/clients';
import { ensureTable } from '../../src/stores/provision';
import { uniqueId } from '../../dev/harness/pipeline';
import { ensureStack } from '../../dev/harness/stack';

export interface LlmStack {
  cfg: AppConfig;
  emulator: EmulatorHandle;
  close(): Promise<void>;
}

/** An own table and emulator on the shared stack. */
export async function startLlmStack(emulator: StartEmulatorOptions = {}): Promise<LlmStack> {
  await ensureStack();
  const emu = await startEmulator({ port: 0, latencyMs: 20, jitterMs: 0, accuracy: 1, ...emulator });
  const cfg = loadConfig({ ...process.env, DYNAMODB_TABLE: `test-${uniqueId()}`, OLLAMA_HOST: emu.url });
  await ensureTable(cfg);
  return { cfg, emulator: emu, close: () => emu.close() };
}

/** A real LlmClient over `cfg`; `deps` replaces any part (a failing cache, a faulty client). */
export function llmClient(
  cfg: AppConfig,
  deps: Partial<LlmClientDeps> = {},
  limiter: Partial<LimiterOptions> = {},
): { llm: LlmClient; limiter: GlobalLimiter; ddb: DynamoDBDocumentClient } {
  const ddb = deps.ddb ?? createDynamoClient(cfg);
  const lim =
    deps.limiter ??
    new GlobalLimiter(ddb, cfg.DYNAMODB_TABLE, {
      cap: cfg.LLM_MAX_CONCURRENT_CALLS,
      leaseMs: cfg.LLM_PERMIT_LEASE_MS,
      ...limiter,
    });
  const llm = new LlmClient({
    provider: createProvider(cfg),
    limiter: lim,
    cache: new LlmCache(ddb, cfg.DYNAMODB_TABLE, cfg.LLM_CACHE_TTL_S),
    metrics: new LlmMetrics(),
    prices: parsePrices(undefined),
    ddb,
    table: cfg.DYNAMODB_TABLE,
    model: cfg.llmModel,
    embeddingModel: cfg.embeddingModel,
    repairAttempts: 0,
    callTimeoutMs: cfg.LLM_CALL_TIMEOUT_MS,
    ledger: new AnswerLedger(ddb, cfg.DYNAMODB_TABLE),
    ...deps,
  });
  return { llm, limiter: lim, ddb };
}

/**
 * Makes the real client fail the requests `matches` picks while `on()` is true (a DynamoDB outage
 * for those requests only), with the error a timed-out request gets.
 */
export function injectDynamoFault(
  ddb: DynamoDBDocumentClient,
  matches: (commandName: string, input: Record<string, unknown>) => boolean,
  on: () => boolean,
): void {
  ddb.middlewareStack.add(
    (next, context) => async (args) => {
      if (on() && matches(String(context.commandName), args.input as Record<string, unknown>))
        throw Object.assign(new Error(`injected fault: ${String(context.commandName)} timed out`), {
          name: 'TimeoutError',
        });
      return next(args);
    },
    { step: 'initialize', name: `injectedFault${Math.random().toString(36).slice(2, 8)}` },
  );
}

export const answerSchema = z.object({ answer: z.number() });
export const answerJsonSchema = {
  type: 'object',
  properties: { answer: { type: 'number' } },
  required: ['answer'],
};

/** One structured call (no item envelope: the emulator answers a deterministic instance). */
export function askNumber(
  llm: LlmClient,
  ids: { runId: string; callId: string; answerId?: string },
  opts: { noCache?: boolean; prompt?: string; signal?: AbortSignal } = {},
) {
  return llm.structured({
    ...ids,
    task: 'number',
    messages: [{ role: 'user', content: opts.prompt ?? 'Give a number.' }],
    schema: answerSchema,
    jsonSchema: answerJsonSchema,
    noCache: opts.noCache,
    signal: opts.signal,
  });
}
