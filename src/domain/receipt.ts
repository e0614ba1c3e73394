// Receipt domain types shared by the generator, the rules, the stores and the workflows.
import type { Label } from './llm-tasks';

export const VALIDATION_STATUSES = ['NONE', 'PENDING', 'VALID', 'INVALID', 'NEEDS_REVIEW'] as const;
export type ValidationStatus = (typeof VALIDATION_STATUSES)[number];

export const EMBEDDING_STATUSES = ['NOT_EMBEDDED', 'PENDING', 'SUCCESS', 'FAILED'] as const;
export type EmbeddingStatus = (typeof EMBEDDING_STATUSES)[number];

export interface WordLabel {
  label: Label;
  validationStatus: ValidationStatus;
  /** Who set the label: `seed`, `import`, `llm-review`, `harmonizer`, `rules` ... */
  source: string;
  reason?: string;
  suggestedLabel?: Label;
}

export interface Word {
  /** Stable id: `${receiptId}#L${lineIndex}#W${wordIndex}` (zero-padded indexes). */
  wordId: string;
  lineIndex: number;
  wordIndex: number;
  text: string;
  label?: WordLabel;
}

export interface Line {
  lineId: string;
  lineIndex: number;
  text: string;
  words: Word[];
}

export interface Merchant {
  merchantId: string;
  name: string;
  address: string;
  phone: string;
}

export interface Receipt {
  receiptId: string;
  merchantId: string;
  merchantName: string;
  /** ISO date of purchase, as the generator knows it (the receipt text may format it differently). */
  purchasedAt: string;
  lines: Line[];
}

export function wordIdOf(receiptId: string, lineIndex: number, wordIndex: number): string {
  return `${receiptId}#L${String(lineIndex).padStart(3, '0')}#W${String(wordIndex).padStart(3, '0')}`;
}

export function lineIdOf(receiptId: string, lineIndex: number): string {
  return `${receiptId}#L${String(lineIndex).padStart(3, '0')}`;
}

export function allWords(receipt: Receipt): Word[] {
  return receipt.lines.flatMap((l) => l.words);
}

/** A labelled word that a rule or its unverified status puts up for LLM review. */
export interface LabelIssue {
  wordId: string;
  text: string;
  label: Label;
  /** Text of the word's line, as context for the reviewer. */
  lineText: string;
  /** Names of the rules that flagged it; `UNVERIFIED_LABEL` when only its PENDING status did. */
  rules: string[];
  message: string;
}
