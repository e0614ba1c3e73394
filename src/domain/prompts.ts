// Prompt builders: instructions for the model plus the machine-readable item envelope.
import type { ChatMessage } from '../llm/types';
import { LABELS, renderEnvelope } from './llm-tasks';
import type { LabelIssue } from './receipt';

const LABEL_REVIEW_SYSTEM = [
  'You review word labels on shopping receipts.',
  `Labels: ${LABELS.join(', ')}.`,
  'For each item decide VALID (the label is right), INVALID (wrong; give suggestedLabel) or NEEDS_REVIEW (cannot tell).',
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
  }));
  return [
    { role: 'system', content: LABEL_REVIEW_SYSTEM },
    {
      role: 'user',
      content: `Receipt from merchant "${merchantName}". Review these ${items.length} labelled words:\n${renderEnvelope({ task: 'label_review', items })}`,
    },
  ];
}
