// Prompt builders: instructions for the model plus the machine-readable item envelope.
import type { ChatMessage } from '../llm/types';
import { labelDefinitionsText } from './labels';
import { renderEnvelope } from './llm-tasks';
import type { LabelIssue } from './receipt';

const LABEL_REVIEW_SYSTEM = [
  'You review word labels on shopping receipts.',
  `Labels (use only these):\n${labelDefinitionsText()}`,
  'For each item decide VALID (the label is right), INVALID (wrong; give suggestedLabel, or null when the word should carry no label) or NEEDS_REVIEW (cannot tell).',
  'An item marked "unlabelled": true has no label yet; its label is the one its line neighbours share: VALID means the word should carry it.',
  'Answer with JSON only, one review per item id, following the schema.',
].join('\n');

/** One prompt for a chunk of issues of one receipt. */
export function labelReviewMessages(merchantName: string, issues: LabelIssue[]): ChatMessage[] {
  const items = issues.map((i) => ({
    id: i.wordId,
    text: i.text,
    label: i.label,
    line: i.lineText,
    flags: i.rules,
    ...(i.unlabelled ? { unlabelled: true } : {}),
  }));
  return [
    { role: 'system', content: LABEL_REVIEW_SYSTEM },
    {
      role: 'user',
      content: `Receipt from merchant "${merchantName}". Review these ${items.length} labelled words:\n${renderEnvelope({ task: 'label_review', items })}`,
    },
  ];
}

/** One word of a harmonizer prompt: the word, its label, its context and its nearest neighbours. */
export interface OutlierPromptItem {
  id: string;
  text: string;
  label: string;
  /** The word marked in its line context, e.g. `CHEESE <4.43>`. */
  context: string;
  /** Nearest words with the same label at the same merchant, in context, with cosine similarity. */
  neighbours: Array<{ text: string; similarity: number }>;
}

const LABEL_OUTLIER_SYSTEM = [
  'You check word labels on shopping receipts for consistency.',
  `Labels (use only these):\n${labelDefinitionsText()}`,
  'Each item is a word with its label, the word in its line context, and the most similar words that carry the same label at the same merchant.',
  'Decide for each item whether it is an outlier: a word whose label is wrong compared with how this merchant labels such words. For an outlier give suggestedLabel; otherwise null.',
  'Answer with JSON only, one decision per item id, following the schema.',
].join('\n');

/** One prompt for a batch of words of one label at one merchant (the harmonizer's LLM call). */
export function labelOutlierMessages(
  merchantName: string,
  label: string,
  items: OutlierPromptItem[],
): ChatMessage[] {
  return [
    { role: 'system', content: LABEL_OUTLIER_SYSTEM },
    {
      role: 'user',
      content: `Merchant "${merchantName}", label ${label}. Decide for these ${items.length} words:\n${renderEnvelope({ task: 'label_outlier', items: items.map((i) => ({ ...i })) })}`,
    },
  ];
}
