// OpenAI wire format: request parsing and response bodies for chat completions and embeddings.
// Pure functions, shared by the HTTP routes and by batch lines.
import { type ChatInput, type ChatOutput, type EmbedOutput } from './engine';
import { embeddingToArray, embeddingToBase64 } from './embeddings';
import { BadRequestError, isRecord } from './http-util';
import { type JsonSchema } from './json-schema';
import { decodeTokens } from './tokens';

export const SYSTEM_FINGERPRINT = 'fp_emulator';
/** Largest `dimensions` an embeddings request may ask for. */
export const MAX_EMBEDDING_DIMENSIONS = 8192;
/** Most inputs one embeddings request may carry (OpenAI's limit). */
export const MAX_EMBEDDING_INPUTS = 2048;

export interface OpenAiErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

export function openAiError(
  message: string,
  type: string,
  param: string | null = null,
  code: string | null = null,
): OpenAiErrorBody {
  return { error: { message, type, param, code } };
}

export interface OpenAiChatRequest extends ChatInput {
  stream: boolean;
  includeUsage: boolean;
}

/** Text of a message content: a string, or an array of parts whose text parts are joined. */
function contentText(content: unknown, index: number): string {
  if (typeof content === 'string') return content;
  if (content === null || content === undefined) return '';
  if (Array.isArray(content)) {
    return content
      .map((part) =>
        isRecord(part) && typeof part.text === 'string'
          ? part.text
          : isRecord(part) && typeof part.refusal === 'string'
            ? part.refusal
            : '',
      )
      .join('');
  }
  throw new BadRequestError(
    `Invalid type for 'messages[${index}].content': expected a string or an array of content parts.`,
    400,
    `messages[${index}].content`,
    'invalid_type',
  );
}

/** The answer format a request asks for: a JSON schema, JSON mode, or text. */
function parseResponseFormat(rf: unknown): { jsonSchema?: JsonSchema; jsonMode: boolean } {
  if (rf === undefined || rf === null) return { jsonMode: false };
  if (!isRecord(rf) || typeof rf.type !== 'string') {
    throw new BadRequestError(
      "Invalid 'response_format': expected an object with a 'type'.",
      400,
      'response_format',
      'invalid_value',
    );
  }
  if (rf.type === 'json_schema') {
    const js = rf.json_schema;
    if (!isRecord(js) || typeof js.name !== 'string' || !/^[a-zA-Z0-9_-]{1,64}$/.test(js.name)) {
      throw new BadRequestError(
        "Invalid 'response_format.json_schema': it needs a 'name' of letters, digits, '_' or '-' (at most 64) and a 'schema' object.",
        400,
        'response_format.json_schema.name',
        'invalid_value',
      );
    }
    if (!isRecord(js.schema)) {
      throw new BadRequestError(
        "Invalid 'response_format.json_schema.schema': expected a JSON schema object.",
        400,
        'response_format.json_schema.schema',
        'invalid_value',
      );
    }
    return { jsonSchema: js.schema, jsonMode: false };
  }
  if (rf.type === 'json_object') return { jsonMode: true };
  if (rf.type !== 'text') {
    throw new BadRequestError(
      `Invalid 'response_format.type': '${rf.type}'. Supported values are: 'text', 'json_object' and 'json_schema'.`,
      400,
      'response_format.type',
      'invalid_value',
    );
  }
  return { jsonMode: false };
}

/** The request's `model`: a non-empty string, as OpenAI requires of every endpoint. */
function requiredModel(body: Record<string, unknown>): string {
  if (typeof body.model !== 'string' || body.model === '') {
    throw new BadRequestError(
      'you must provide a model parameter',
      400,
      'model',
      'missing_required_parameter',
    );
  }
  return body.model;
}

export function parseChatCompletionRequest(body: Record<string, unknown>): OpenAiChatRequest {
  const model = requiredModel(body);
  if (!Array.isArray(body.messages) || body.messages.length === 0) {
    throw new BadRequestError(
      "'messages' must be a non-empty array of {role, content}.",
      400,
      'messages',
      'invalid_value',
    );
  }
  const messages = body.messages.map((m, i) => {
    if (!isRecord(m) || typeof m.role !== 'string') {
      throw new BadRequestError(
        `Invalid 'messages[${i}]': expected an object with a string 'role'.`,
        400,
        `messages[${i}]`,
        'invalid_value',
      );
    }
    return { role: m.role, content: contentText(m.content, i) };
  });
  const { jsonSchema, jsonMode } = parseResponseFormat(body.response_format);
  const streamOptions = isRecord(body.stream_options) ? body.stream_options : {};
  // max_tokens is the deprecated name; both are checked, the newer one wins.
  const maxTokens = parseTokenLimit(body, 'max_tokens');
  const maxCompletionTokens = parseTokenLimit(body, 'max_completion_tokens');
  return {
    model,
    messages,
    jsonSchema,
    jsonMode,
    stream: body.stream === true,
    includeUsage: streamOptions.include_usage === true,
    maxCompletionTokens: maxCompletionTokens ?? maxTokens,
  };
}

/** An optional output-token limit: null or absent for none, else an integer of at least 1. */
function parseTokenLimit(
  body: Record<string, unknown>,
  key: 'max_tokens' | 'max_completion_tokens',
): number | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v)) {
    throw new BadRequestError(
      `Invalid type for '${key}': expected an integer, but got ${JSON.stringify(v)} instead.`,
      400,
      key,
      'invalid_type',
    );
  }
  if (v < 1) {
    throw new BadRequestError(
      `Invalid '${key}': integer below minimum value. Expected a value >= 1, but got ${v} instead.`,
      400,
      key,
      'integer_below_min_value',
    );
  }
  return v;
}

function usage(out: ChatOutput) {
  return {
    prompt_tokens: out.promptTokens,
    completion_tokens: out.completionTokens,
    total_tokens: out.promptTokens + out.completionTokens,
    prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
    completion_tokens_details: {
      reasoning_tokens: 0,
      audio_tokens: 0,
      accepted_prediction_tokens: 0,
      rejected_prediction_tokens: 0,
    },
  };
}

/** The `chat.completion` object, as OpenAI returns it. */
export function chatCompletionBody(out: ChatOutput, model: string, id: string, created: number) {
  return {
    id,
    object: 'chat.completion',
    created,
    model,
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content: out.content, refusal: null, annotations: [] },
        logprobs: null,
        finish_reason: out.finishReason,
      },
    ],
    usage: usage(out),
    service_tier: 'default',
    system_fingerprint: SYSTEM_FINGERPRINT,
  };
}

/** The server-sent events of a streamed completion: the whole answer in one delta, then stop. */
export function chatCompletionStream(
  out: ChatOutput,
  model: string,
  id: string,
  created: number,
  includeUsage: boolean,
): string {
  const base = {
    id,
    object: 'chat.completion.chunk',
    created,
    model,
    service_tier: 'default',
    system_fingerprint: SYSTEM_FINGERPRINT,
  };
  const events: unknown[] = [
    {
      ...base,
      choices: [
        {
          index: 0,
          delta: { role: 'assistant', content: out.content, refusal: null },
          logprobs: null,
          finish_reason: null,
        },
      ],
    },
    { ...base, choices: [{ index: 0, delta: {}, logprobs: null, finish_reason: out.finishReason }] },
  ];
  if (includeUsage) events.push({ ...base, choices: [], usage: usage(out) });
  return events.map((e) => `data: ${JSON.stringify(e)}\n\n`).join('') + 'data: [DONE]\n\n';
}

export interface OpenAiEmbeddingsRequest {
  model: string;
  texts: string[];
  dimensions: number | undefined;
  encoding: 'float' | 'base64';
}

export function parseEmbeddingsRequest(body: Record<string, unknown>): OpenAiEmbeddingsRequest {
  const model = requiredModel(body);
  const input = body.input;
  let texts: string[];
  const isTokens = (v: unknown): v is number[] =>
    Array.isArray(v) && v.length > 0 && v.every((x) => Number.isInteger(x));
  if (typeof input === 'string') texts = [input];
  else if (isTokens(input)) texts = [decodeTokens(input)];
  else if (Array.isArray(input) && input.length > 0 && input.every((x) => typeof x === 'string'))
    texts = input as string[];
  else if (Array.isArray(input) && input.length > 0 && input.every(isTokens))
    texts = input.map((t) => decodeTokens(t));
  else {
    throw new BadRequestError(
      "'input' must be a non-empty string, an array of strings, or token arrays.",
      400,
      'input',
      'invalid_value',
    );
  }
  if (texts.length > MAX_EMBEDDING_INPUTS) {
    throw new BadRequestError(
      `'input' has ${texts.length} items; at most ${MAX_EMBEDDING_INPUTS} are allowed.`,
      400,
      'input',
      'invalid_value',
    );
  }
  const empty = texts.findIndex((t) => t.length === 0);
  if (empty >= 0)
    throw new BadRequestError(
      `'$.input' is invalid: input[${empty}] is empty.`,
      400,
      'input',
      'invalid_value',
    );
  const enc = body.encoding_format ?? 'float';
  if (enc !== 'float' && enc !== 'base64') {
    throw new BadRequestError(
      `Invalid 'encoding_format': '${String(enc)}'. Use 'float' or 'base64'.`,
      400,
      'encoding_format',
      'invalid_value',
    );
  }
  const dims = body.dimensions;
  if (
    dims !== undefined &&
    dims !== null &&
    (!Number.isInteger(dims) || (dims as number) < 1 || (dims as number) > MAX_EMBEDDING_DIMENSIONS)
  ) {
    throw new BadRequestError(
      `Invalid 'dimensions': expected an integer in 1..${MAX_EMBEDDING_DIMENSIONS}.`,
      400,
      'dimensions',
      'invalid_value',
    );
  }
  return {
    model,
    texts,
    dimensions: (dims as number | null | undefined) ?? undefined,
    encoding: enc,
  };
}

export function embeddingsBody(out: EmbedOutput, model: string, encoding: 'float' | 'base64') {
  return {
    object: 'list',
    data: out.vectors.map((v, index) => ({
      object: 'embedding',
      index,
      embedding: encoding === 'base64' ? embeddingToBase64(v) : embeddingToArray(v),
    })),
    model,
    usage: { prompt_tokens: out.promptTokens, total_tokens: out.promptTokens },
  };
}

/** OpenAI's messages for the server errors the emulator injects. */
export function serverErrorBody(status: number): OpenAiErrorBody {
  switch (status) {
    case 502:
      return openAiError('Bad gateway.', 'server_error', null, null);
    case 503:
      return openAiError(
        'The server is overloaded or not ready yet.',
        'server_error',
        null,
        'service_unavailable',
      );
    default:
      return openAiError(
        'The server had an error while processing your request. Sorry about that!',
        'server_error',
        null,
        null,
      );
  }
}
