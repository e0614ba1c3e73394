// Receipt domain types shared by the generator, the rules, the stores and the workflows.
import type { Label } from './llm-tasks';

export const VALIDATION_STATUSES = ['NONE', 'PENDING', 'VALID', 'INVALID', 'NEEDS_REVIEW'] as const;
export type ValidationStatus = (typeof VALIDATION_STATUSES)[number];

export const EMBEDDING_STATUSES = ['NOT_EMBEDDED', 'PENDING', 'SUCCESS', 'FAILED'] as const;
export type EmbeddingStatus = (typeof EMBEDDING_STATUSES)[number];

export interface WordLabel {
  label: Label;
  validationStatus: ValidationStatus;
  /** Who proposed the label (the seed's `label_proposed_by`): `seed`, `import`, `llm-review` ... */
  source: string;
  /** Why it was proposed or last changed (the seed's `reasoning`; the audit reason of a review). */
  reason?: string;
  suggestedLabel?: Label;
}

/** A label a review replaced: kept on the word as its audit trail (the seed keeps one item per label). */
export interface PastLabel {
  label: Label;
  validationStatus: ValidationStatus;
  source: string;
  reason?: string;
}

/**
 * A box normalised to 0..1 of the image's width and height, with y = 0 at the BOTTOM (the seed
 * project's convention): `y` is the box's lower edge, `y + height` its upper edge.
 */
export interface BoundingBox {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface Word {
  /** Stable id: `${receiptId}#L${lineIndex}#W${wordIndex}` (zero-padded indexes). */
  wordId: string;
  lineIndex: number;
  wordIndex: number;
  text: string;
  /** Where the word is printed (absent on receipts stored before geometry existed). */
  boundingBox?: BoundingBox;
  label?: WordLabel;
  /** Labels a review replaced, oldest first. */
  pastLabels?: PastLabel[];
}

export interface Line {
  lineId: string;
  lineIndex: number;
  text: string;
  /** The union of its words' boxes (absent on receipts stored before geometry existed). */
  boundingBox?: BoundingBox;
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
  /** The photo the receipt was cut from (the seed's `image_id`, a uuid); generated receipts get one too. */
  imageId?: string;
  /** Which receipt of that image (the seed's `receipt_id`, 1-based). */
  receiptNumber?: number;
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

/** The smallest box holding all of `boxes`; undefined when there are none. */
export function unionBox(boxes: ReadonlyArray<BoundingBox | undefined>): BoundingBox | undefined {
  const present = boxes.filter((b): b is BoundingBox => b !== undefined);
  if (present.length === 0) return undefined;
  const x0 = Math.min(...present.map((b) => b.x));
  const y0 = Math.min(...present.map((b) => b.y));
  const x1 = Math.max(...present.map((b) => b.x + b.width));
  const y1 = Math.max(...present.map((b) => b.y + b.height));
  return { x: x0, y: y0, width: x1 - x0, height: y1 - y0 };
}

/** A labelled word that a rule or its unverified status puts up for LLM review. */
export interface LabelIssue {
  wordId: string;
  text: string;
  /** The word's label; for an `unlabelled` word, the label its line neighbours share (proposed). */
  label: Label;
  /** True when the word has no label and the issue proposes `label` for it. */
  unlabelled?: boolean;
  /** Text of the word's line, as context for the reviewer. */
  lineText: string;
  /** Names of the rules that flagged it; `UNVERIFIED_LABEL` when only its PENDING status did. */
  rules: string[];
  message: string;
}
