// What both wire protocols (and batch lines) share: answering a chat, embedding texts, drawing faults.
import { embedText } from './embeddings';
import { type JsonSchema } from './json-schema';
import { answerPrompt, malformAnswer } from './oracle';
import { type SeededRandom } from './random';
import { type EmulatorSettings } from './settings';
import { countChatPromptTokens, countTextTokens, truncateToTokens } from './tokens';
import { type TruthSource } from './truth-source';

/** A chat request once its wire format is stripped away. */
export interface ChatInput {
  model: string;
  messages: Array<{ role: string; content: string }>;
  /** JSON schema the answer must follow. */
  jsonSchema?: JsonSchema;
  /** JSON output asked for without a schema. */
  jsonMode: boolean;
  /**
   * Most completion tokens the answer may have (Ollama `options.num_predict`, OpenAI
   * `max_completion_tokens` / `max_tokens`); a longer answer is cut. Unset: no limit.
   */
  maxCompletionTokens?: number;
}

/** Why generation stopped: the answer was complete, or it hit `maxCompletionTokens`. */
export type FinishReason = 'stop' | 'length';

export interface ChatOutput {
  content: string;
  promptTokens: number;
  completionTokens: number;
  /** The content was deliberately spoiled (`malformedRate`). */
  malformed: boolean;
  /** 'length' when the content was cut at `maxCompletionTokens` (and is usually invalid JSON then). */
  finishReason: FinishReason;
}

export interface EmbedOutput {
  vectors: Float32Array[];
  promptTokens: number;
}

/** The fate of one admitted request, drawn up front so every request consumes the same randomness. */
export interface FaultDraw {
  latencyMs: number;
  timeout: boolean;
  /** Status of an injected server error, if any. */
  errorStatus: 500 | 502 | 503 | undefined;
  malformed: boolean;
  /** Which way to spoil a malformed answer. */
  malformChoice: number;
}

const ERROR_STATUSES = [500, 502, 503] as const;

/** Draws a request's fate from a seeded stream (six numbers per request, whatever the outcome). */
export function drawFaults(rng: SeededRandom, s: EmulatorSettings): FaultDraw {
  const jitter = rng.next();
  const timeout = rng.next() < s.timeoutRate;
  const error = rng.next() < s.errorRate;
  const status = ERROR_STATUSES[Math.floor(rng.next() * ERROR_STATUSES.length)] ?? 500;
  const malformed = rng.next() < s.malformedRate;
  const malformChoice = rng.next();
  return {
    latencyMs: Math.max(0, s.latencyMs + (jitter * 2 - 1) * s.jitterMs),
    timeout,
    errorStatus: error ? status : undefined,
    malformed,
    malformChoice,
  };
}

export class InferenceEngine {
  constructor(
    private readonly settings: () => EmulatorSettings,
    private readonly truth: TruthSource,
  ) {}

  /** Prompt = every message's content; the oracle finds the item envelope in it. */
  chat(input: ChatInput, malformChoice?: number): ChatOutput {
    const s = this.settings();
    const prompt =
      input.messages.length === 1
        ? (input.messages[0]?.content ?? '')
        : input.messages.map((m) => m.content).join('\n\n');
    const answer = answerPrompt({
      prompt,
      truth: this.truth.get(),
      accuracy: s.accuracy,
      seed: s.seed,
      jsonSchema: input.jsonSchema,
      jsonMode: input.jsonMode,
    });
    let content =
      malformChoice === undefined
        ? answer.content
        : malformAnswer(answer.content, malformChoice, input.jsonSchema);
    let completionTokens = countTextTokens(content);
    let finishReason: FinishReason = 'stop';
    const limit = input.maxCompletionTokens;
    if (limit !== undefined && completionTokens > limit) {
      content = truncateToTokens(content, limit);
      completionTokens = limit;
      finishReason = 'length';
    }
    return {
      content,
      promptTokens: countChatPromptTokens(input.messages),
      completionTokens,
      malformed: malformChoice !== undefined,
      finishReason,
    };
  }

  embed(texts: readonly string[], dimensions?: number): EmbedOutput {
    const dim = dimensions ?? this.settings().embeddingDim;
    let promptTokens = 0;
    const vectors = texts.map((t) => {
      promptTokens += countTextTokens(t);
      return embedText(t, dim);
    });
    return { vectors, promptTokens };
  }
}
