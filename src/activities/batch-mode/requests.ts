// A batch job's request lines: exactly the realtime chat completion request of a structured call
// (chatCompletionParams), its custom_id the call's cache key; and how an answer line is judged.
import type { z } from 'zod';
import { chatCompletionParams } from '../../llm/openai';
import { safeParseJson, structuredCacheKey } from '../../llm/llm-client';
import { outputTokenLimit } from '../../llm/output-limit';
import type { ChatMessage } from '../../llm/types';
import { placeEnrichmentSchemaFor } from '../../domain/place-prompts';
import { labelReviewSchemaFor } from '../evaluate/review';

/** What an answer must cover, by task (the index file of a job keeps one per custom_id). */
export type AnswerCheck =
  { task: 'label_review'; ids: string[] } | { task: 'place_enrichment'; placeId: string };

/** A structured call as the realtime path makes it (labelReviewCall and its kind). */
export interface StructuredPrompt {
  task: string;
  messages: ChatMessage[];
  jsonSchema: Record<string, unknown>;
  itemCount: number;
}

/** One request line of a batch input file, keyed by the cache key the realtime call reads. */
export function requestLineOf(
  prompt: StructuredPrompt,
  provider: string,
  model: string,
): { customId: string; line: string } {
  const customId = structuredCacheKey(provider, model, prompt.messages, prompt.jsonSchema);
  const body = chatCompletionParams({
    model,
    messages: prompt.messages,
    jsonSchema: prompt.jsonSchema,
    schemaName: prompt.task,
    maxOutputTokens: outputTokenLimit(prompt.jsonSchema, prompt.itemCount),
  });
  return {
    customId,
    line: JSON.stringify({ custom_id: customId, method: 'POST', url: '/v1/chat/completions', body }) + '\n',
  };
}

function schemaOf(check: AnswerCheck): z.ZodType<unknown> {
  return check.task === 'label_review'
    ? labelReviewSchemaFor(new Set(check.ids))
    : placeEnrichmentSchemaFor(check.placeId);
}

/** An answer as the realtime path accepts it: not cut at the output limit, valid for its schema. */
export function isValidAnswer(check: AnswerCheck, content: string, truncated: boolean): boolean {
  return !truncated && safeParseJson(content, schemaOf(check)).ok;
}

/** One line of a batch output file: its custom_id and, when answered 200, the answer. */
export interface AnswerLine {
  customId: string;
  answer?: {
    content: string;
    truncated: boolean;
    promptTokens: number;
    completionTokens: number;
    model: string;
  };
}

interface ChatBody {
  model?: string;
  choices?: Array<{ message?: { content?: string | null }; finish_reason?: string }>;
  usage?: { prompt_tokens?: number; completion_tokens?: number };
}

export function parseAnswerLine(raw: string): AnswerLine | undefined {
  if (raw.trim() === '') return undefined;
  const line = JSON.parse(raw) as {
    custom_id?: string;
    response?: { status_code?: number; body?: ChatBody } | null;
  };
  if (typeof line.custom_id !== 'string') return undefined;
  const res = line.response;
  if (!res || res.status_code !== 200 || !res.body) return { customId: line.custom_id };
  const choice = res.body.choices?.[0];
  return {
    customId: line.custom_id,
    answer: {
      content: choice?.message?.content ?? '',
      truncated: choice?.finish_reason === 'length',
      promptTokens: res.body.usage?.prompt_tokens ?? 0,
      completionTokens: res.body.usage?.completion_tokens ?? 0,
      model: res.body.model ?? '',
    },
  };
}
