// Chooses the provider adapter from config; the API key stays inside the worker process.
import type { AppConfig } from '../config';
import { OllamaProvider } from './ollama';
import { OpenAiProvider } from './openai';
import type { LlmProvider } from './types';

export function createProvider(cfg: AppConfig): LlmProvider {
  if (cfg.llmProvider === 'openai') {
    return new OpenAiProvider(cfg.llmBaseUrl, cfg.OPENAI_API_KEY ?? 'emulator', cfg.LLM_CALL_TIMEOUT_MS);
  }
  return new OllamaProvider(cfg.llmBaseUrl);
}
