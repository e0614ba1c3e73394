// The contract between our prompts and any LLM (real or the emulator's oracle): task kinds,
// answer schemas, and the machine-readable item block every prompt carries.
import { z } from 'zod';
import { LABELS, type Label } from './labels';

export { LABELS, type Label } from './labels';
export const labelSchema = z.enum(LABELS);

export const TASK_KINDS = ['label_review', 'label_outlier', 'place_enrichment', 'test_quality'] as const;
export type TaskKind = (typeof TASK_KINDS)[number];

/** Answer to a label-review prompt: one review per issue id sent. */
export const labelReviewAnswerSchema = z.object({
  reviews: z.array(
    z.object({
      id: z.string(),
      decision: z.enum(['VALID', 'INVALID', 'NEEDS_REVIEW']),
      suggestedLabel: labelSchema.nullable(),
      reason: z.string(),
    }),
  ),
});
export type LabelReviewAnswer = z.infer<typeof labelReviewAnswerSchema>;

/** Answer to a harmonizer prompt: is each word an outlier among its label at its merchant? */
export const labelOutlierAnswerSchema = z.object({
  decisions: z.array(
    z.object({
      id: z.string(),
      outlier: z.boolean(),
      suggestedLabel: labelSchema.nullable(),
      reason: z.string(),
    }),
  ),
});
export type LabelOutlierAnswer = z.infer<typeof labelOutlierAnswerSchema>;

/** Answer to the one combined enrichment prompt of a place. */
export const placeEnrichmentAnswerSchema = z.object({
  id: z.string(),
  description: z.string(),
  amenities: z.array(z.string()).max(10),
  hasWomenOnlyHours: z.boolean(),
  hoursFrench: z.string(),
});
export type PlaceEnrichmentAnswer = z.infer<typeof placeEnrichmentAnswerSchema>;

export const QUALITY_ISSUE_KINDS = [
  'NO_ASSERTION',
  'WEAK_ASSERTION',
  'SLEEP_IN_TEST',
  'SKIPPED_TEST',
  'TOO_LONG',
  'DUPLICATE_NAME',
  'FLAKY_PATTERN',
  'OVER_MOCKED',
  'UNCLEAR_NAME',
] as const;

/** Answer to the combined quality prompt of one uncertain test function. */
export const testQualityAnswerSchema = z.object({
  id: z.string(),
  hasIssue: z.boolean(),
  issues: z.array(z.object({ kind: z.enum(QUALITY_ISSUE_KINDS), message: z.string() })),
});
export type TestQualityAnswer = z.infer<typeof testQualityAnswerSchema>;

export const answerSchemas = {
  label_review: labelReviewAnswerSchema,
  label_outlier: labelOutlierAnswerSchema,
  place_enrichment: placeEnrichmentAnswerSchema,
  test_quality: testQualityAnswerSchema,
} as const satisfies Record<TaskKind, z.ZodType>;

/** JSON schema sent to the provider (OpenAI `response_format.json_schema`, Ollama `format`). */
export function answerJsonSchema(task: TaskKind): Record<string, unknown> {
  const schema = z.toJSONSchema(answerSchemas[task], { target: 'draft-7' }) as Record<string, unknown>;
  delete schema.$schema;
  return { title: task, ...schema };
}

/** True when the answers name every id sent exactly once, and nothing else (a repeated id is invalid). */
export function coversExactly(answers: ReadonlyArray<{ id: string }>, ids: ReadonlySet<string>): boolean {
  const seen = new Set(answers.map((a) => a.id));
  return answers.length === ids.size && seen.size === ids.size && [...seen].every((id) => ids.has(id));
}

/** Longest reason a per-call schema asks for (the answer schemas accept longer ones). */
export const REASON_MAX_CHARS = 80;

/**
 * The JSON schema of one call answering `ids`: the per-item array holds exactly one entry per id,
 * each entry's `id` is one of them, and reasons are short. Structured output (Ollama's grammar) then
 * cannot invent items or ramble past the last one: a small model's answers become valid far more
 * often, and its output ends. (The OpenAI adapter drops the length bounds its strict mode refuses.)
 */
export function answerJsonSchemaFor(task: 'label_review' | 'label_outlier', ids: readonly string[]) {
  const schema = answerJsonSchema(task);
  const key = task === 'label_review' ? 'reviews' : 'decisions';
  const props = schema.properties as Record<string, Record<string, unknown>>;
  const array = props[key]!;
  const item = array.items as { properties: Record<string, unknown> };
  props[key] = {
    ...array,
    minItems: ids.length,
    maxItems: ids.length,
    items: {
      ...item,
      properties: {
        ...item.properties,
        id: { type: 'string', enum: [...ids] },
        reason: { type: 'string', maxLength: REASON_MAX_CHARS },
      },
    },
  };
  return schema;
}

/**
 * Every prompt ends with one fenced block `ITEMS` holding `{task, items:[{id, ...}]}` so that
 * answers are per stable item id: the emulator's oracle reads it, and so could a human.
 */
export interface PromptEnvelope {
  task: TaskKind;
  items: Array<{ id: string } & Record<string, unknown>>;
}

const ENVELOPE_RE = /```items\n([\s\S]*?)\n```/;

export function renderEnvelope(envelope: PromptEnvelope): string {
  return '```items\n' + JSON.stringify(envelope) + '\n```';
}

/** Finds the item envelope in a prompt; undefined when the prompt carries none. */
export function parseEnvelope(prompt: string): PromptEnvelope | undefined {
  const m = ENVELOPE_RE.exec(prompt);
  if (!m?.[1]) return undefined;
  try {
    const v = JSON.parse(m[1]) as PromptEnvelope;
    if (!TASK_KINDS.includes(v.task) || !Array.isArray(v.items)) return undefined;
    return v;
  } catch {
    return undefined;
  }
}

/**
 * Ground truth written by `seed` (DATA_DIR/truth.json) for the emulator's oracle and for scoring.
 * Keys are stable item ids.
 */
export interface Truth {
  seed: number;
  /** wordId -> the label the word really has (its stored label may be a planted error). */
  words: Record<string, { label: Label }>;
  /** placeId -> the enrichment a perfect model would return. */
  places: Record<string, Omit<PlaceEnrichmentAnswer, 'id'>>;
  /** functionId -> the quality verdict a perfect model would return. */
  functions: Record<string, Omit<TestQualityAnswer, 'id'>>;
  /** wordId -> the wrong label `seed --error-rate` planted on it (for scoring recall). */
  planted?: Record<string, Label>;
}

export function emptyTruth(seed = 0): Truth {
  return { seed, words: {}, places: {}, functions: {} };
}
