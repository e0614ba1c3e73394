// The emulator's "model": answers a prompt's item envelope from the dataset's truth, correct with a
// configurable, seeded probability; unknown prompts get a deterministic answer valid for their schema.
// Pure: no I/O, no clock, no global state.
import {
  LABELS,
  QUALITY_ISSUE_KINDS,
  parseEnvelope,
  type Label,
  type LabelOutlierAnswer,
  type LabelReviewAnswer,
  type PlaceEnrichmentAnswer,
  type PromptEnvelope,
  type TaskKind,
  type TestQualityAnswer,
  type Truth,
} from '../../src/domain/llm-tasks';
import { findSchemaViolation, generateInstance, type JsonSchema } from './json-schema';
import { SeededRandom, hashParts, hex8, unitFromParts } from './random';

export interface OracleRequest {
  /** The prompt: every message's content, concatenated. */
  prompt: string;
  truth: Truth | undefined;
  /** Probability that an item with known truth is answered correctly. */
  accuracy: number;
  seed: number;
  /** JSON schema the answer must follow (OpenAI `json_schema`, Ollama `format` object). */
  jsonSchema?: JsonSchema;
  /** JSON asked for without a schema (OpenAI `json_object`, Ollama `format: "json"`). */
  jsonMode?: boolean;
}

export interface OracleAnswer {
  /** The answer text (JSON when JSON was asked for or the prompt carries an envelope). */
  content: string;
  /** `truth`: answered per item of an envelope; `generic`: derived from a hash of the prompt. */
  source: 'truth' | 'generic';
  task?: TaskKind;
  /** Items answered with known truth, and how many of them deliberately wrong. */
  itemsKnown: number;
  itemsWrong: number;
}

/** The correct answer and, separately, whether the oracle chose to get it wrong. */
interface ItemVerdict<T> {
  answer: T;
  known: boolean;
  wrong: boolean;
}

type Item = PromptEnvelope['items'][number];

/** True when the oracle answers this item correctly: a hash of (seed, task, id) against accuracy. */
export function isAnsweredCorrectly(seed: number, task: TaskKind, itemId: string, accuracy: number): boolean {
  return unitFromParts(seed, task, itemId) < accuracy;
}

function itemLabel(item: Item): string | undefined {
  return typeof item.label === 'string' ? item.label : undefined;
}

/** A label that is neither of `avoid`, chosen by hash so it is stable per item. */
function wrongLabel(seed: number, itemId: string, ...avoid: Array<string | undefined>): Label {
  const candidates = LABELS.filter((l) => !avoid.includes(l));
  return candidates[hashParts(seed, 'wrong-label', itemId) % candidates.length] as Label;
}

/** The oracle's view of a word's label: whether it says the label is right, and what it suggests. */
type LabelJudgement =
  | { known: false }
  | { known: true; label: string | undefined; saysRight: boolean; suggested: Label; wrong: boolean };

/**
 * Judges a word's label against the truth (unknown without truth): right when they agree, said the
 * other way round when the oracle chose to be wrong, which also makes it suggest a wrong label.
 */
function judgeWordLabel(
  item: Item,
  truth: Truth | undefined,
  seed: number,
  accuracy: number,
  task: 'label_review' | 'label_outlier',
): LabelJudgement {
  const label = itemLabel(item);
  const truthLabel = truth?.words?.[item.id]?.label;
  if (truthLabel === undefined) return { known: false };
  const right = truthLabel === label;
  const wrong = !isAnsweredCorrectly(seed, task, item.id, accuracy);
  return {
    known: true,
    label,
    saysRight: wrong ? !right : right,
    suggested: wrong ? wrongLabel(seed, item.id, label, truthLabel) : truthLabel,
    wrong,
  };
}

function reviewItem(id: string, j: LabelJudgement): ItemVerdict<LabelReviewAnswer['reviews'][number]> {
  if (!j.known) {
    // An imported receipt's words have no truth: a deterministic "cannot tell" that changes nothing.
    const reason = 'No ground truth for this word.';
    return {
      answer: { id, decision: 'NEEDS_REVIEW', suggestedLabel: null, reason },
      known: false,
      wrong: false,
    };
  }
  const answer = j.saysRight
    ? {
        id,
        decision: 'VALID' as const,
        suggestedLabel: null,
        reason: `The text reads as ${j.label ?? 'its label'}.`,
      }
    : {
        id,
        decision: 'INVALID' as const,
        suggestedLabel: j.suggested,
        reason: 'The text does not match its label.',
      };
  return { answer, known: true, wrong: j.wrong };
}

function outlierItem(id: string, j: LabelJudgement): ItemVerdict<LabelOutlierAnswer['decisions'][number]> {
  const consistent = {
    id,
    outlier: false,
    suggestedLabel: null,
    reason: 'Consistent with its neighbours.',
  };
  if (!j.known) return { answer: consistent, known: false, wrong: false };
  const answer = j.saysRight
    ? consistent
    : {
        id,
        outlier: true,
        suggestedLabel: j.suggested,
        reason: 'Unlike the other words with this label.',
      };
  return { answer, known: true, wrong: j.wrong };
}

/** Items a single-item task answers about: the envelope's first. */
function singleItem(envelope: PromptEnvelope): Item | undefined {
  return envelope.items[0];
}

function enrichmentItem(
  item: Item,
  truth: Truth | undefined,
  seed: number,
  accuracy: number,
): ItemVerdict<PlaceEnrichmentAnswer> {
  const known = truth?.places?.[item.id];
  if (!known) {
    const name = typeof item.name === 'string' ? item.name : item.id;
    return {
      answer: {
        id: item.id,
        description: `${name}.`,
        amenities: [],
        hasWomenOnlyHours: false,
        hoursFrench: '',
      },
      known: false,
      wrong: false,
    };
  }
  const wrong = !isAnsweredCorrectly(seed, 'place_enrichment', item.id, accuracy);
  const answer: PlaceEnrichmentAnswer = {
    id: item.id,
    description: known.description,
    amenities: known.amenities.slice(0, 10),
    hasWomenOnlyHours: wrong ? !known.hasWomenOnlyHours : known.hasWomenOnlyHours,
    hoursFrench: known.hoursFrench,
  };
  return { answer, known: true, wrong };
}

function qualityItem(
  item: Item,
  truth: Truth | undefined,
  seed: number,
  accuracy: number,
): ItemVerdict<TestQualityAnswer> {
  const known = truth?.functions?.[item.id];
  if (!known) return { answer: { id: item.id, hasIssue: false, issues: [] }, known: false, wrong: false };
  const wrong = !isAnsweredCorrectly(seed, 'test_quality', item.id, accuracy);
  if (!wrong)
    return { answer: { id: item.id, hasIssue: known.hasIssue, issues: known.issues }, known: true, wrong };
  const answer: TestQualityAnswer = known.hasIssue
    ? { id: item.id, hasIssue: false, issues: [] }
    : {
        id: item.id,
        hasIssue: true,
        issues: [
          {
            kind: QUALITY_ISSUE_KINDS[
              hashParts(seed, 'issue-kind', item.id) % QUALITY_ISSUE_KINDS.length
            ] as TestQualityAnswer['issues'][number]['kind'],
            message: 'This test looks weak.',
          },
        ],
      };
  return { answer, known: true, wrong };
}

/** The oracle's answer object for an envelope (valid for `answerSchemas[envelope.task]`). */
export function answerEnvelope(
  envelope: PromptEnvelope,
  truth: Truth | undefined,
  seed: number,
  accuracy: number,
): {
  value: LabelReviewAnswer | LabelOutlierAnswer | PlaceEnrichmentAnswer | TestQualityAnswer;
  itemsKnown: number;
  itemsWrong: number;
} {
  const items = envelope.items.filter((i): i is Item => typeof i?.id === 'string');
  const tally = <T>(verdicts: Array<ItemVerdict<T>>) => ({
    itemsKnown: verdicts.filter((v) => v.known).length,
    itemsWrong: verdicts.filter((v) => v.wrong).length,
  });
  switch (envelope.task) {
    case 'label_review': {
      const verdicts = items.map((i) =>
        reviewItem(i.id, judgeWordLabel(i, truth, seed, accuracy, 'label_review')),
      );
      return { value: { reviews: verdicts.map((v) => v.answer) }, ...tally(verdicts) };
    }
    case 'label_outlier': {
      const verdicts = items.map((i) =>
        outlierItem(i.id, judgeWordLabel(i, truth, seed, accuracy, 'label_outlier')),
      );
      return { value: { decisions: verdicts.map((v) => v.answer) }, ...tally(verdicts) };
    }
    case 'place_enrichment': {
      const item = singleItem({ ...envelope, items }) ?? { id: '' };
      const verdict = enrichmentItem(item, truth, seed, accuracy);
      return { value: verdict.answer, ...tally([verdict]) };
    }
    case 'test_quality': {
      const item = singleItem({ ...envelope, items }) ?? { id: '' };
      const verdict = qualityItem(item, truth, seed, accuracy);
      return { value: verdict.answer, ...tally([verdict]) };
    }
  }
}

const TEXT_WORDS = [
  'noted',
  'receipt',
  'total',
  'checked',
  'label',
  'merchant',
  'line',
  'amount',
  'looks',
  'fine',
];

/** A deterministic answer derived from the prompt alone (no envelope, or its answer does not fit the schema). */
export function genericAnswer(
  prompt: string,
  seed: number,
  jsonSchema?: JsonSchema,
  jsonMode = false,
): string {
  const h = hashParts(seed, prompt);
  if (jsonSchema !== undefined) return JSON.stringify(generateInstance(jsonSchema, new SeededRandom(h)));
  const rng = new SeededRandom(h);
  const words = Array.from({ length: 4 + rng.int(5) }, () => rng.pick(TEXT_WORDS));
  const text = `Emulated answer ${hex8(h)}: ${words.join(' ')}.`;
  return jsonMode ? JSON.stringify({ answer: text }) : text;
}

/** Answers a prompt: from the truth when it carries an envelope, else generically. */
export function answerPrompt(req: OracleRequest): OracleAnswer {
  const envelope = parseEnvelope(req.prompt);
  if (envelope) {
    const { value, itemsKnown, itemsWrong } = answerEnvelope(envelope, req.truth, req.seed, req.accuracy);
    // A client may ask for a schema other than the task's; the schema it asked for wins.
    if (req.jsonSchema === undefined || findSchemaViolation(req.jsonSchema, value) === undefined) {
      return { content: JSON.stringify(value), source: 'truth', task: envelope.task, itemsKnown, itemsWrong };
    }
  }
  return {
    content: genericAnswer(req.prompt, req.seed, req.jsonSchema, req.jsonMode),
    source: 'generic',
    task: envelope?.task,
    itemsKnown: 0,
    itemsWrong: 0,
  };
}

/**
 * Spoils an answer so that it is NOT valid for its schema while the HTTP exchange still succeeds:
 * either truncated mid-way (not JSON at all) or with its first field renamed (valid JSON, wrong shape).
 */
export function malformAnswer(content: string, choice: number, jsonSchema?: JsonSchema): string {
  const truncated = content.slice(0, Math.max(1, Math.floor(content.length * 0.6)));
  if (choice < 0.5) return truncated;
  try {
    const value: unknown = JSON.parse(content);
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
      const entries = Object.entries(value);
      const first = entries[0];
      if (first) {
        const renamed = Object.fromEntries([[`${first[0]}_x`, first[1]], ...entries.slice(1)]);
        // Only when the rename really breaks the schema (a schema without `required` might accept it).
        if (jsonSchema === undefined || findSchemaViolation(jsonSchema, renamed) !== undefined)
          return JSON.stringify(renamed);
      }
    }
  } catch {
    // Not JSON: truncation is the only way to spoil it.
  }
  return truncated;
}
