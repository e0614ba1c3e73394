// The one provider interface every pipeline's LLM call goes through.
export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export interface ChatRequest {
  model: string;
  messages: ChatMessage[];
  /** JSON schema the answer must follow (structured output). */
  jsonSchema?: Record<string, unknown>;
  schemaName?: string;
  temperature?: number;
  /** Most tokens the model may generate (Ollama `num_predict`, OpenAI `max_tokens`). */
  maxOutputTokens?: number;
}

export interface ChatResult {
  content: string;
  /** True when generation stopped at `maxOutputTokens` (`done_reason`/`finish_reason` "length"). */
  truncated: boolean;
  promptTokens: number;
  completionTokens: number;
  model: string;
  /**
   * How long the server says the request waited for a slot before it ran (Ollama: its total duration
   * less load, prompt and generation time); undefined where the server does not say (OpenAI).
   */
  queuedMs?: number;
}

export interface EmbedResult {
  vectors: number[][];
  promptTokens: number;
  model: string;
}

export interface LlmProvider {
  readonly name: 'ollama' | 'openai';
  chat(req: ChatRequest, signal?: AbortSignal): Promise<ChatResult>;
  embed(model: string, inputs: string[], signal?: AbortSignal): Promise<EmbedResult>;
}
