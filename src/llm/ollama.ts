// Ollama adapter (official `ollama` SDK): chat with a `format` schema, embeddings.
import { Ollama } from 'ollama';
import { LlmTransientError, errorForStatus, parseRetryAfter } from './errors';
import { FREE_STRING_CHARS } from './output-limit';
import type { ChatRequest, ChatResult, EmbedResult, LlmProvider } from './types';

export class OllamaProvider implements LlmProvider {
  readonly name = 'ollama' as const;
  constructor(private readonly host: string) {}

  /**
   * A client per call: the SDK has no per-request abort signal, so we hand it a fetch bound to
   * this call's signal (the LlmClient's deadline aborts it); the same fetch turns non-2xx answers
   * into our typed errors, keeping the Retry-After header that the SDK's own ResponseError drops.
   */
  private client(signal?: AbortSignal): Ollama {
    const boundFetch: typeof fetch = async (input, init) => {
      let res: Response;
      try {
        res = await fetch(input, { ...init, ...(signal ? { signal } : {}) });
      } catch (err) {
        throw new LlmTransientError(undefined, `Ollama request failed: ${(err as Error).message}`);
      }
      if (!res.ok) {
        const body = await res.text().catch(() => '');
        throw errorForStatus(
          res.status,
          parseRetryAfter(res.headers),
          `Ollama answered ${res.status}: ${body.slice(0, 300)}`,
        );
      }
      return res;
    };
    return new Ollama({ host: this.host, fetch: boundFetch });
  }

  async chat(req: ChatRequest, signal?: AbortSignal): Promise<ChatResult> {
    const res = await this.client(signal).chat({
      model: req.model,
      messages: req.messages,
      stream: false,
      format: req.jsonSchema ? boundFreeStrings(req.jsonSchema) : undefined,
      options: {
        temperature: req.temperature ?? 0,
        ...(req.maxOutputTokens ? { num_predict: req.maxOutputTokens } : {}),
      },
    });
    return {
      content: res.message.content,
      truncated: res.done_reason === 'length',
      promptTokens: res.prompt_eval_count ?? 0,
      completionTokens: res.eval_count ?? 0,
      model: res.model,
      queuedMs: queuedMs(res),
    };
  }

  async embed(model: string, inputs: string[], signal?: AbortSignal): Promise<EmbedResult> {
    const res = await this.client(signal).embed({ model, input: inputs });
    return { vectors: res.embeddings, promptTokens: res.prompt_eval_count ?? 0, model: res.model };
  }
}

/**
 * The schema with every unbounded string given the length the output-token limit assumes
 * (FREE_STRING_CHARS): Ollama turns `format` into a sampling grammar, so a small model cannot spend
 * its whole budget on one free-text field and leave the JSON unfinished.
 */
export function boundFreeStrings(schema: Record<string, unknown>): Record<string, unknown> {
  const walk = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(walk);
    if (!v || typeof v !== 'object') return v;
    const o = v as Record<string, unknown>;
    const out = Object.fromEntries(
      Object.entries(o).map(([k, x]) => [k, k === 'enum' || k === 'required' ? x : walk(x)]),
    );
    const isString = o.type === 'string' || (Array.isArray(o.type) && o.type.includes('string'));
    if (isString && o.maxLength === undefined && o.enum === undefined) out.maxLength = FREE_STRING_CHARS;
    return out;
  };
  return walk(schema) as Record<string, unknown>;
}

/**
 * The time a request waited for one of the server's slots: Ollama's runner counts prompt and generation
 * time from when the request got a slot, while the total runs from when the server took the request.
 * Undefined when the durations are missing.
 */
export function queuedMs(
  res: Partial<Record<'total_duration' | 'load_duration' | 'prompt_eval_duration' | 'eval_duration', number>>,
): number | undefined {
  const { total_duration: total, prompt_eval_duration: prompt, eval_duration: gen } = res;
  if (!total || prompt === undefined || gen === undefined) return undefined;
  return Math.max(0, (total - (res.load_duration ?? 0) - prompt - gen) / 1e6);
}
