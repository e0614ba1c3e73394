// OpenAI adapter (official `openai` SDK): chat completions with json_schema, embeddings.
import OpenAI from 'openai';
import { LlmTransientError, errorForStatus, parseRetryAfter } from './errors';
import type { ChatRequest, ChatResult, EmbedResult, LlmProvider } from './types';

export class OpenAiProvider implements LlmProvider {
  readonly name = 'openai' as const;
  /** The SDK's own retries are off: Temporal is the one retry layer. */
  readonly client: OpenAI;

  constructor(baseURL: string, apiKey: string, timeoutMs: number) {
    this.client = new OpenAI({ baseURL, apiKey, maxRetries: 0, timeout: timeoutMs });
  }

  async chat(req: ChatRequest, signal?: AbortSignal): Promise<ChatResult> {
    try {
      const res = await this.client.chat.completions.create(chatCompletionParams(req), { signal });
      return {
        content: res.choices[0]?.message.content ?? '',
        truncated: res.choices[0]?.finish_reason === 'length',
        promptTokens: res.usage?.prompt_tokens ?? 0,
        completionTokens: res.usage?.completion_tokens ?? 0,
        model: res.model,
      };
    } catch (err) {
      throw mapOpenAiError(err);
    }
  }

  async embed(model: string, inputs: string[], signal?: AbortSignal): Promise<EmbedResult> {
    try {
      const res = await this.client.embeddings.create({ model, input: inputs }, { signal });
      return {
        vectors: res.data.sort((a, b) => a.index - b.index).map((d) => d.embedding),
        promptTokens: res.usage?.prompt_tokens ?? 0,
        model: res.model,
      };
    } catch (err) {
      throw mapOpenAiError(err);
    }
  }
}

/**
 * The body of a chat completion request: what `chat` sends, and what a Batch API line carries
 * (batch mode sends exactly the realtime request).
 */
export function chatCompletionParams(req: ChatRequest) {
  return {
    model: req.model,
    messages: req.messages,
    temperature: req.temperature ?? 0,
    ...(req.maxOutputTokens ? { max_tokens: req.maxOutputTokens } : {}),
    ...(req.jsonSchema
      ? {
          response_format: {
            type: 'json_schema' as const,
            json_schema: {
              name: req.schemaName ?? 'answer',
              schema: strictSubset(req.jsonSchema),
              strict: true,
            },
          },
        }
      : {}),
  };
}

export function mapOpenAiError(err: unknown): Error {
  if (err instanceof OpenAI.APIError && typeof err.status === 'number') {
    return errorForStatus(
      err.status,
      parseRetryAfter(err.headers),
      `OpenAI answered ${err.status}: ${err.message}`,
    );
  }
  if (err instanceof OpenAI.APIError)
    return new LlmTransientError(undefined, `OpenAI request failed: ${err.message}`);
  return err as Error;
}

/** Length bounds that OpenAI's strict structured outputs may refuse; our zod schemas still check answers. */
const UNSUPPORTED_IN_STRICT = new Set(['minItems', 'maxItems', 'minLength', 'maxLength']);

/** The schema without keywords outside OpenAI's strict subset (recursively). */
export function strictSubset(schema: unknown): Record<string, unknown> {
  const walk = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(walk);
    if (!v || typeof v !== 'object') return v;
    return Object.fromEntries(
      Object.entries(v as Record<string, unknown>)
        .filter(([k]) => !UNSUPPORTED_IN_STRICT.has(k))
        .map(([k, x]) => [k, k === 'enum' || k === 'required' ? x : walk(x)]),
    );
  };
  return walk(schema) as Record<string, unknown>;
}
