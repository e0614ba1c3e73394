// The receipt items of the single table: their keys, and a receipt as items and back (one receipt
// is one partition: its META item, lines and words). Only the receipt store uses these.
import type { Label } from '../domain/llm-tasks';
import type { BoundingBox, Line, PastLabel, Receipt, ValidationStatus, Word } from '../domain/receipt';
import { lineIdOf } from '../domain/receipt';
import {
  boundText,
  MAX_IMPORT_FIELD_TEXT,
  MAX_LINE_TEXT,
  MAX_PROVIDER_TEXT,
  MAX_WORD_TEXT,
} from '../domain/bounded-text';
import { validId } from '../domain/ids';

/** Partition of a merchant (its META item; GSI1 partition of its receipts); the id is validated. */
export const merchantPartition = (merchantId: string) => `MERCHANT#${validId('merchant id', merchantId)}`;
/** Partition of a receipt (META, lines and words); the id is validated. */
const receiptPartition = (receiptId: string) => `RECEIPT#${validId('receipt id', receiptId)}`;

export const keys = {
  merchant: (merchantId: string) => ({ PK: merchantPartition(merchantId), SK: 'META' }),
  receipt: (receiptId: string) => ({ PK: receiptPartition(receiptId), SK: 'META' }),
  line: (receiptId: string, lineIndex: number) => ({
    PK: receiptPartition(receiptId),
    SK: `LINE#${pad(lineIndex)}`,
  }),
  word: (receiptId: string, lineIndex: number, wordIndex: number) => ({
    PK: receiptPartition(receiptId),
    SK: `LINE#${pad(lineIndex)}#WORD#${pad(wordIndex)}`,
  }),
};

/** GSI1 partition of the words of one merchant carrying one label. */
export function labelledWordsPartition(merchantId: string, label: string): string {
  return `${merchantPartition(merchantId)}#LABEL#${label}`;
}

export function isBox(v: unknown): v is BoundingBox {
  const b = v as Partial<BoundingBox> | undefined;
  return (
    typeof b?.x === 'number' &&
    typeof b.y === 'number' &&
    typeof b.width === 'number' &&
    typeof b.height === 'number'
  );
}

export function pad(n: number): string {
  return String(n).padStart(3, '0');
}

/** Parses `${receiptId}#L012#W003` back into its parts. */
export function parseWordId(wordId: string): { receiptId: string; lineIndex: number; wordIndex: number } {
  const m = /^(.*)#L(\d+)#W(\d+)$/.exec(wordId);
  if (!m) throw new Error(`Malformed word id ${JSON.stringify(wordId)}`);
  return { receiptId: m[1]!, lineIndex: Number(m[2]), wordIndex: Number(m[3]) };
}

/** The items of one receipt: META, lines and words (with their labels and boxes). */
export function receiptItems(r: Receipt): Record<string, unknown>[] {
  const items: Record<string, unknown>[] = [];
  const wordCount = r.lines.reduce((n, l) => n + l.words.length, 0);
  items.push({
    ...keys.receipt(r.receiptId),
    type: 'RECEIPT',
    GSI1PK: merchantPartition(r.merchantId),
    GSI1SK: `RECEIPT#${r.receiptId}`,
    receiptId: r.receiptId,
    merchantId: r.merchantId,
    // Texts come from import files too: bounded here, where they enter DynamoDB items.
    merchantName: boundText(r.merchantName, MAX_IMPORT_FIELD_TEXT),
    purchasedAt: boundText(r.purchasedAt, MAX_IMPORT_FIELD_TEXT),
    ...(r.imageId ? { imageId: r.imageId } : {}),
    ...(r.receiptNumber !== undefined ? { receiptNumber: r.receiptNumber } : {}),
    lineCount: r.lines.length,
    wordCount,
  });
  for (const line of r.lines) {
    const lineText = boundText(line.text, MAX_LINE_TEXT);
    items.push({
      ...keys.line(r.receiptId, line.lineIndex),
      type: 'LINE',
      lineId: line.lineId,
      lineIndex: line.lineIndex,
      text: lineText,
      ...(line.boundingBox ? { boundingBox: line.boundingBox } : {}),
      merchantId: r.merchantId,
      embeddingStatus: 'NOT_EMBEDDED',
      GSI2PK: 'EMBED#LINE#NOT_EMBEDDED',
      GSI2SK: line.lineId,
    });
    for (const w of line.words) {
      items.push({
        ...keys.word(r.receiptId, w.lineIndex, w.wordIndex),
        type: 'WORD',
        wordId: w.wordId,
        lineIndex: w.lineIndex,
        wordIndex: w.wordIndex,
        text: boundText(w.text, MAX_WORD_TEXT),
        ...(w.boundingBox ? { boundingBox: w.boundingBox } : {}),
        merchantId: r.merchantId,
        // The word's context for embeddings and prompts (domain/embedding-text.ts).
        lineText,
        ...(w.label
          ? {
              // Labelled words of a merchant by label (the harmonizer's groups), overloading GSI1.
              GSI1PK: labelledWordsPartition(r.merchantId, w.label.label),
              GSI1SK: w.wordId,
              label: w.label.label,
              validationStatus: w.label.validationStatus,
              labelSource: w.label.source,
              labelReason: w.label.reason && boundText(w.label.reason, MAX_PROVIDER_TEXT),
              suggestedLabel: w.label.suggestedLabel,
            }
          : {}),
        ...(w.pastLabels?.length ? { pastLabels: w.pastLabels } : {}),
        embeddingStatus: 'NOT_EMBEDDED',
        GSI2PK: 'EMBED#WORD#NOT_EMBEDDED',
        GSI2SK: w.wordId,
      });
    }
  }
  return items;
}

/** A receipt from its partition's items; undefined without its META item. */
export function receiptFromItems(receiptId: string, items: Record<string, unknown>[]): Receipt | undefined {
  const meta = items.find((i) => i.SK === 'META');
  if (!meta) return undefined;
  const lines = new Map<number, Line>();
  for (const i of items) {
    if (i.type === 'LINE') {
      const lineIndex = Number(i.lineIndex);
      lines.set(lineIndex, {
        lineId: lineIdOf(receiptId, lineIndex),
        lineIndex,
        text: String(i.text),
        ...(isBox(i.boundingBox) ? { boundingBox: i.boundingBox } : {}),
        words: [],
      });
    }
  }
  for (const i of items) {
    if (i.type !== 'WORD') continue;
    const line = lines.get(Number(i.lineIndex));
    if (!line) continue;
    const word: Word = {
      wordId: String(i.wordId),
      lineIndex: Number(i.lineIndex),
      wordIndex: Number(i.wordIndex),
      text: String(i.text),
      ...(isBox(i.boundingBox) ? { boundingBox: i.boundingBox } : {}),
      ...(Array.isArray(i.pastLabels) && i.pastLabels.length
        ? { pastLabels: i.pastLabels as PastLabel[] }
        : {}),
    };
    if (i.label !== undefined) {
      word.label = {
        label: i.label as Label,
        validationStatus: (i.validationStatus as ValidationStatus) ?? 'NONE',
        source: String(i.labelSource ?? 'unknown'),
        ...(i.labelReason ? { reason: String(i.labelReason) } : {}),
        ...(i.suggestedLabel ? { suggestedLabel: i.suggestedLabel as Label } : {}),
      };
    }
    line.words.push(word);
  }
  const sorted = [...lines.values()].sort((a, b) => a.lineIndex - b.lineIndex);
  for (const l of sorted) l.words.sort((a, b) => a.wordIndex - b.wordIndex);
  return {
    receiptId,
    merchantId: String(meta.merchantId),
    merchantName: String(meta.merchantName),
    purchasedAt: String(meta.purchasedAt),
    ...(typeof meta.imageId === 'string' ? { imageId: meta.imageId } : {}),
    ...(typeof meta.receiptNumber === 'number' ? { receiptNumber: meta.receiptNumber } : {}),
    lines: sorted,
  };
}
