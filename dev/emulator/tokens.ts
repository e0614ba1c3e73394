// Token counts for usage fields, from a real BPE tokenizer (o200k_base, the gpt-4o family's).
import { countTokens as countBpeTokens, decode, encode } from 'gpt-tokenizer/encoding/o200k_base';

/** Tokens OpenAI adds per chat message (role and separators) and once to prime the answer. */
export const TOKENS_PER_MESSAGE = 3;
export const TOKENS_PER_REPLY = 3;

/** Distinct texts remembered; system prompts and instructions repeat across calls. */
const CACHE_LIMIT = 4096;
/** Texts shorter than this are tokenized directly: cheaper than hashing them into the cache. */
const CACHE_MIN_LENGTH = 64;

const cache = new Map<string, number>();

/** BPE tokens of a text; long texts are remembered, so a repeated prompt is tokenized once. */
export function countTextTokens(text: string): number {
  if (text.length === 0) return 0;
  if (text.length < CACHE_MIN_LENGTH) return countBpeTokens(text);
  const hit = cache.get(text);
  if (hit !== undefined) return hit;
  const n = countBpeTokens(text);
  if (cache.size >= CACHE_LIMIT) {
    // Drop the oldest entry (Map keeps insertion order): a cheap FIFO bound.
    const oldest = cache.keys().next();
    if (!oldest.done) cache.delete(oldest.value);
  }
  cache.set(text, n);
  return n;
}

/** Prompt tokens of a chat, counted the way OpenAI bills it: content + per-message overhead. */
export function countChatPromptTokens(messages: ReadonlyArray<{ role: string; content: string }>): number {
  let n = TOKENS_PER_REPLY;
  for (const m of messages) n += TOKENS_PER_MESSAGE + countTextTokens(m.content) + countTextTokens(m.role);
  return n;
}

/**
 * The first `maxTokens` tokens of a text, as a model cut off by its output limit would have written them
 * (a multi-byte character split by the cut decodes to U+FFFD).
 */
export function truncateToTokens(text: string, maxTokens: number): string {
  const tokens = encode(text);
  return tokens.length <= maxTokens ? text : decode(tokens.slice(0, Math.max(0, maxTokens)));
}

/** Text of token ids (OpenAI embeddings accept token arrays as input). */
export function decodeTokens(tokens: readonly number[]): string {
  try {
    return decode(tokens);
  } catch {
    return tokens.join(' ');
  }
}
