// Ollama wire format: request parsing and response bodies for /api/chat, /api/embed, /api/tags.
import { type ChatInput, type ChatOutput, type EmbedOutput } from './engine';
import { embeddingToArray } from './embeddings';
import { BadRequestError, isRecord } from './http-util';
import { type JsonSchema } from './json-schema';
import { MAX_EMBEDDING_DIMENSIONS } from './openai-wire';

export interface OllamaChatRequest extends ChatInput {
  /** Ollama streams unless told `stream: false`. */
  stream: boolean;
}

export function parseOllamaChatRequest(body: Record<string, unknown>): OllamaChatRequest {
  if (typeof body.model !== 'string' || body.model === '') throw new BadRequestError('model is required');
  const rawMessages = body.messages ?? [];
  if (!Array.isArray(rawMessages)) throw new BadRequestError('messages must be an array');
  const messages = rawMessages.map((m, i) => {
    if (!isRecord(m) || typeof m.role !== 'string')
      throw new BadRequestError(`messages[${i}] needs a string role`);
    if (m.content !== undefined && typeof m.content !== 'string')
      throw new BadRequestError(`messages[${i}].content must be a string`);
    return { role: m.role, content: m.content ?? '' };
  });
  let jsonSchema: JsonSchema | undefined;
  let jsonMode = false;
  if (body.format === 'json') jsonMode = true;
  else if (isRecord(body.format)) jsonSchema = body.format;
  else if (body.format !== undefined && body.format !== '' && body.format !== null) {
    throw new BadRequestError(
      `invalid format: ${JSON.stringify(body.format)}: expected "json" or a JSON schema object`,
    );
  }
  return {
    model: body.model,
    messages,
    jsonSchema,
    jsonMode,
    stream: body.stream !== false,
    maxCompletionTokens: parseNumPredict(body.options),
  };
}

/** `options.num_predict`: a positive integer limits the completion; -1, -2 and 0 mean no limit, as in Ollama. */
function parseNumPredict(options: unknown): number | undefined {
  if (options === undefined || options === null) return undefined;
  if (!isRecord(options)) throw new BadRequestError('options must be an object');
  const n = options.num_predict;
  if (n === undefined || n === null) return undefined;
  if (typeof n !== 'number' || !Number.isInteger(n))
    throw new BadRequestError(`option "num_predict" must be of type integer, got ${JSON.stringify(n)}`);
  return n > 0 ? n : undefined;
}

/**
 * Ollama reports durations in nanoseconds. As in its runner, prompt and generation time count only
 * the time in a slot: a request that waited for one (`queuedMs`) has a total longer than their sum.
 * The emulator splits the time in the slot plausibly.
 */
function durations(elapsedMs: number, queuedMs = 0) {
  const total = Math.round(elapsedMs * 1e6);
  const load = Math.round(total * 0.01);
  const inSlot = Math.max(0, total - load - Math.round(queuedMs * 1e6));
  return {
    total_duration: total,
    load_duration: load,
    prompt_eval_duration: Math.round(inSlot * 0.2),
    eval_duration: inSlot - Math.round(inSlot * 0.2),
  };
}

export function ollamaChatBody(out: ChatOutput, model: string, elapsedMs: number, queuedMs = 0) {
  return {
    model,
    created_at: new Date().toISOString(),
    message: { role: 'assistant', content: out.content },
    done_reason: out.finishReason,
    done: true,
    ...durations(elapsedMs, queuedMs),
    prompt_eval_count: out.promptTokens,
    eval_count: out.completionTokens,
  };
}

export interface OllamaEmbedRequest {
  model: string;
  texts: string[];
  dimensions: number | undefined;
}

export function parseOllamaEmbedRequest(body: Record<string, unknown>): OllamaEmbedRequest {
  if (typeof body.model !== 'string' || body.model === '') throw new BadRequestError('model is required');
  const input = body.input;
  let texts: string[];
  if (typeof input === 'string') texts = [input];
  else if (Array.isArray(input) && input.every((x) => typeof x === 'string')) texts = input as string[];
  else throw new BadRequestError('invalid input type: input must be a string or an array of strings');
  const dims = body.dimensions;
  if (
    dims !== undefined &&
    dims !== null &&
    (!Number.isInteger(dims) || (dims as number) < 1 || (dims as number) > MAX_EMBEDDING_DIMENSIONS)
  ) {
    throw new BadRequestError(`dimensions must be an integer in 1..${MAX_EMBEDDING_DIMENSIONS}`);
  }
  return { model: body.model, texts, dimensions: (dims as number | null | undefined) ?? undefined };
}

export function ollamaEmbedBody(out: EmbedOutput, model: string, elapsedMs: number) {
  const d = durations(elapsedMs);
  return {
    model,
    embeddings: out.vectors.map(embeddingToArray),
    total_duration: d.total_duration,
    load_duration: d.load_duration,
    prompt_eval_count: out.promptTokens,
  };
}

/** Models `GET /api/tags` lists: the project's default chat and embedding models. */
export const OLLAMA_MODELS = [
  { name: 'llama3.1:8b', family: 'llama', parameterSize: '8.0B', size: 4_920_753_328 },
  { name: 'nomic-embed-text:latest', family: 'nomic-bert', parameterSize: '137M', size: 274_302_450 },
];

export function ollamaTagsBody() {
  return {
    models: OLLAMA_MODELS.map((m, i) => ({
      name: m.name,
      model: m.name,
      modified_at: '2025-01-01T00:00:00Z',
      size: m.size,
      digest: `${'0'.repeat(63)}${i}`,
      details: {
        parent_model: '',
        format: 'gguf',
        family: m.family,
        families: [m.family],
        parameter_size: m.parameterSize,
        quantization_level: 'Q4_K_M',
      },
    })),
  };
}

/** Messages Ollama uses for a full queue and for injected server errors. */
export const OLLAMA_BUSY_MESSAGE = 'server busy, please try again.  maximum pending requests exceeded';

export function ollamaServerErrorMessage(status: number): string {
  return status === 503
    ? 'model runner is unavailable, please try again'
    : status === 502
      ? 'bad gateway'
      : 'llama runner process has terminated: exit status 2';
}
