// Settings of the LLM provider emulator: one interface, one zod schema, one function applying defaults.
import { z } from 'zod';

/** Everything that shapes how the emulator behaves; all can be changed live (PUT /_emulator/config). */
export interface EmulatorSettings {
  /**
   * How the provider meets more work than it serves at once. `'refusing'` is a hosted API: over
   * `maxConcurrency` a request is refused with `rateLimitStatus` and `Retry-After`. `'queueing'` is a
   * self-hosted Ollama: `parallel` requests are served at once, the rest wait in one FIFO queue of at
   * most `maxQueue`, and service time follows the tokens (`serviceTimeMs` in service-time.ts).
   * `rpm`, the fault rates and `loadingForMs` apply in both.
   * @default 'refusing'
   */
  providerModel: 'refusing' | 'queueing';
  /**
   * Most inference requests (chat, embeddings) served at once; one more is refused with
   * `rateLimitStatus` and `Retry-After`. Refusing model only.
   * @default 64
   */
  maxConcurrency: number;
  /**
   * Queueing model: requests served at once (Ollama's `OLLAMA_NUM_PARALLEL`); the rest wait in FIFO order.
   * @default 4
   */
  parallel: number;
  /**
   * Queueing model: most requests waiting for a slot (Ollama's `OLLAMA_MAX_QUEUE`, whose default this
   * is); one more is answered 503 "server busy" at once, without `Retry-After`. 0 means unbounded.
   * @default 512
   */
  maxQueue: number;
  /**
   * Queueing model: prompt tokens per second a slot reads (prefill) while it computes alone.
   * Measured on SmolLM2-135M, 2 CPU cores: 230 to 370.
   * @default 300
   */
  prefillTokensPerS: number;
  /**
   * Queueing model: completion tokens per second a slot generates (decode) while it computes alone.
   * Measured on SmolLM2-135M, 2 CPU cores: 60 to 83.
   * @default 70
   */
  decodeTokensPerS: number;
  /**
   * Queueing model: throughput of all computing slots together, as a multiple of one slot alone, because
   * slots share one machine. With k slots computing, each runs at min(1, parallelSpeedup / k) of its solo
   * speed: 1.4 makes two slots each 0.7 as fast, 1.4 times the throughput of one.
   * @default 1.4
   */
  parallelSpeedup: number;
  /**
   * Inference requests admitted per sliding 60 s window; 0 means unlimited. Admissions are only
   * recorded while a limit is set, so turning it on live starts with an empty window.
   * @default 0
   */
  rpm: number;
  /**
   * Base service time of a chat or embeddings request (files and batches answer at once). In the
   * queueing model it is a fixed overhead per request, spent in its slot before the token work.
   * @default 200
   */
  latencyMs: number;
  /**
   * Seeded uniform jitter added to `latencyMs`, in [-jitterMs, +jitterMs]; the sum is never negative.
   * @default 50
   */
  jitterMs: number;
  /**
   * Fraction of admitted inference requests answered with a 500, 502 or 503 error (and, in batches,
   * fraction of request lines that fail with a 500).
   * @default 0
   */
  errorRate: number;
  /**
   * Fraction of chat answers that are 200 but whose content is not valid for the requested schema
   * (truncated JSON or a renamed field); applies to batch chat lines too.
   * @default 0
   */
  malformedRate: number;
  /**
   * Injected status fault: `faultRate` of the inference requests (chat and embeddings, both APIs) are
   * answered with this 4xx/5xx status once admitted and their body read, before parsing, queueing or
   * latency, with the API's error body (401 is OpenAI's `invalid_api_key`). Unset (null over HTTP): off.
   * @default undefined
   */
  faultStatus: number | undefined;
  /**
   * Fraction of inference requests answered with `faultStatus` (seeded, like the other faults).
   * @default 0
   */
  faultRate: number;
  /**
   * Applying this setting starts a model (re)load lasting this many ms from now (given at start: from
   * the start). Meanwhile every inference request is answered 503 at once with Ollama's "server busy"
   * error and no `Retry-After`, as Ollama does while it loads a model. Reads back as the ms still left;
   * 0 ends a load.
   * @default 0
   */
  loadingForMs: number;
  /**
   * Fraction of admitted inference requests that hang `timeoutMs` and then lose their socket.
   * @default 0
   */
  timeoutRate: number;
  /**
   * How long a timed-out request hangs before its socket is destroyed.
   * @default 30000
   */
  timeoutMs: number;
  /**
   * Probability that the oracle answers an item with known truth correctly (decided per item by a
   * hash of seed, task and item id, so the same seed gives the same answers).
   * @default 1
   */
  accuracy: number;
  /**
   * HTTP status of a request refused by `maxConcurrency` or `rpm`: 429 (OpenAI) or 503 (a full
   * Ollama queue). Applies to both APIs.
   * @default 429
   */
  rateLimitStatus: 429 | 503;
  /**
   * Value of `Retry-After` (seconds, rounded up) and `retry-after-ms` on a refused request.
   * @default 1
   */
  retryAfterS: number;
  /**
   * Seconds from a batch's creation until it is completed (or expired); statuses in between are
   * derived from the clock, so no timers run.
   * @default 5
   */
  batchCompleteAfterS: number;
  /**
   * Fraction of batches that expire instead of completing (decided per batch id and seed).
   * @default 0
   */
  batchExpireRate: number;
  /**
   * Fraction of an expired batch's requests that still have output; the rest are `batch_expired`
   * lines in the error file.
   * @default 0.5
   */
  batchPartialRate: number;
  /**
   * Seed of every random choice: jitter, faults, oracle mistakes, batch fates, output order, ids.
   * @default 42
   */
  seed: number;
  /**
   * Length of embedding vectors unless the request asks for `dimensions`.
   * @default 256
   */
  embeddingDim: number;
  /**
   * Path of the JSON `Truth` the oracle answers from; re-read when its mtime changes (checked at
   * most once per second). Unset (or missing file): every item gets the "nothing known" answer.
   * @default undefined
   */
  truthFile: string | undefined;
}

const rate = z.number().min(0).max(1);
/** Most slots the queueing model may have; far beyond any real server, it only guards against typos. */
const MAX_PARALLEL = 1024;
/** Settings whose `undefined` means "off" (null over HTTP) rather than "not given". */
const UNSETTABLE: ReadonlySet<string> = new Set(['truthFile', 'faultStatus']);

/** Zod schema of a settings patch: camelCase keys, unknown keys refused (a typo must not pass silently). */
export const emulatorSettingsPatchSchema = z
  .object({
    providerModel: z.enum(['refusing', 'queueing']),
    maxConcurrency: z.number().int().min(1),
    parallel: z.number().int().min(1).max(MAX_PARALLEL),
    maxQueue: z.number().int().min(0),
    prefillTokensPerS: z.number().positive(),
    decodeTokensPerS: z.number().positive(),
    parallelSpeedup: z.number().min(1),
    rpm: z.number().int().min(0),
    latencyMs: z.number().min(0),
    jitterMs: z.number().min(0),
    errorRate: rate,
    malformedRate: rate,
    /** null (JSON has no undefined) turns status faults off. */
    faultStatus: z
      .number()
      .int()
      .min(400)
      .max(599)
      .nullable()
      .transform((v) => v ?? undefined),
    faultRate: rate,
    loadingForMs: z.number().min(0),
    timeoutRate: rate,
    timeoutMs: z.number().min(0),
    accuracy: rate,
    rateLimitStatus: z.union([z.literal(429), z.literal(503)]),
    retryAfterS: z.number().min(0),
    batchCompleteAfterS: z.number().min(0),
    batchExpireRate: rate,
    batchPartialRate: rate,
    seed: z.number().int(),
    embeddingDim: z.number().int().min(1).max(8192),
    /** null (JSON has no undefined) unsets the truth file. */
    truthFile: z
      .string()
      .min(1)
      .nullable()
      .transform((v) => v ?? undefined),
  })
  .partial()
  .strict();

export type EmulatorSettingsPatch = z.input<typeof emulatorSettingsPatchSchema>;

export const DEFAULT_EMULATOR_SETTINGS: Readonly<EmulatorSettings> = Object.freeze({
  providerModel: 'refusing',
  maxConcurrency: 64,
  parallel: 4,
  maxQueue: 512,
  prefillTokensPerS: 300,
  decodeTokensPerS: 70,
  parallelSpeedup: 1.4,
  rpm: 0,
  latencyMs: 200,
  jitterMs: 50,
  errorRate: 0,
  malformedRate: 0,
  faultStatus: undefined,
  faultRate: 0,
  loadingForMs: 0,
  timeoutRate: 0,
  timeoutMs: 30_000,
  accuracy: 1,
  rateLimitStatus: 429,
  retryAfterS: 1,
  batchCompleteAfterS: 5,
  batchExpireRate: 0,
  batchPartialRate: 0.5,
  seed: 42,
  embeddingDim: 256,
  truthFile: undefined,
});

/** Thrown for settings that do not validate; the message names every bad field. */
export class EmulatorSettingsError extends Error {
  override name = 'EmulatorSettingsError';
  constructor(
    message: string,
    /** Offending setting names, in the order zod reported them. */
    readonly fields: string[],
  ) {
    super(message);
  }
}

/** Validates a patch; throws EmulatorSettingsError naming each bad field and why. */
export function parseSettingsPatch(patch: unknown): Partial<EmulatorSettings> {
  const parsed = emulatorSettingsPatchSchema.safeParse(patch);
  if (parsed.success) {
    const out: Partial<EmulatorSettings> = {};
    // `undefined` of an UNSETTABLE setting is meaningful (off), other undefined values are "not given".
    for (const [k, v] of Object.entries(parsed.data)) {
      if (v !== undefined || UNSETTABLE.has(k)) (out as Record<string, unknown>)[k] = v;
    }
    return out;
  }
  const fields: string[] = [];
  const lines = parsed.error.issues.map((issue) => {
    if (issue.code === 'unrecognized_keys') {
      fields.push(...issue.keys);
      return `unknown setting(s) ${issue.keys.join(', ')}; known: ${Object.keys(DEFAULT_EMULATOR_SETTINGS).join(', ')}`;
    }
    const field = issue.path.join('.') || '(body)';
    fields.push(field);
    return `${field}: ${issue.message}`;
  });
  throw new EmulatorSettingsError(`Invalid emulator settings: ${lines.join('; ')}`, fields);
}

/** Applies defaults to a (validated) partial; the one place defaults live. */
export function resolveEmulatorSettings(
  partial: unknown = {},
  base: Readonly<EmulatorSettings> = DEFAULT_EMULATOR_SETTINGS,
): EmulatorSettings {
  return { ...base, ...parseSettingsPatch(partial) };
}
