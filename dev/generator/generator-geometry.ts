// Where the words of a synthetic receipt are printed: a monospace column, amounts right-aligned,
// boxes normalised to 0..1 with y = 0 at the bottom (the seed project's convention).
import type { Segment } from './generator-layout';
import { parseMoney } from '../../src/domain/money';
import { seededFor } from './random';
import {
  lineIdOf,
  unionBox,
  wordIdOf,
  type BoundingBox,
  type Line,
  type Word,
} from '../../src/domain/receipt';

/** Characters a receipt printer puts on one line. */
const COLUMNS = 40;
const MARGIN = 0.05;
/** Height of a printed line, and the share of it the glyphs fill. */
const LINE_PITCH = 0.022;
const GLYPH_SHARE = 0.8;

export interface GeneratedWord {
  text: string;
  label: Segment[1];
}

/** Rounded to 4 decimals: ample for a photo, and small in DynamoDB items. */
function r4(x: number): number {
  return Math.round(x * 10_000) / 10_000;
}

/** The boxes of one line's tokens: left to right, a trailing amount right-aligned at the last column. */
function tokenBoxes(tokens: readonly string[], lineIndex: number, lineCount: number): BoundingBox[] {
  const pitch = Math.min(LINE_PITCH, (1 - 2 * MARGIN) / Math.max(1, lineCount));
  const top = 1 - MARGIN - lineIndex * pitch;
  const height = pitch * GLYPH_SHARE;
  const length = tokens.reduce((n, t) => n + t.length, 0) + Math.max(0, tokens.length - 1);
  const charWidth = (1 - 2 * MARGIN) / Math.max(COLUMNS, length);
  const columns = Math.max(COLUMNS, length);
  const starts: number[] = [];
  let col = 0;
  for (const t of tokens) {
    starts.push(col);
    col += t.length + 1;
  }
  const last = tokens.length - 1;
  if (last > 0 && parseMoney(tokens[last]!) !== undefined) starts[last] = columns - tokens[last]!.length;
  return tokens.map((t, i) => ({
    x: r4(MARGIN + starts[i]! * charWidth),
    y: r4(top - height),
    width: r4(t.length * charWidth),
    height: r4(height),
  }));
}

/** Lines of words with ids, indexes, boxes and (VALID, source `source`) labels. */
export function layoutToLines(receiptId: string, layout: readonly Segment[][], source: string): Line[] {
  return layout.map((segments, lineIndex) => {
    const tokens: GeneratedWord[] = segments.flatMap(([text, label]) =>
      text
        .split(/\s+/)
        .filter(Boolean)
        .map((token) => ({ text: token, label })),
    );
    const boxes = tokenBoxes(
      tokens.map((t) => t.text),
      lineIndex,
      layout.length,
    );
    const words: Word[] = tokens.map(({ text, label }, wordIndex) => ({
      wordId: wordIdOf(receiptId, lineIndex, wordIndex),
      lineIndex,
      wordIndex,
      text,
      boundingBox: boxes[wordIndex]!,
      ...(label ? { label: { label, validationStatus: 'VALID' as const, source } } : {}),
    }));
    const box = unionBox(boxes);
    return {
      lineId: lineIdOf(receiptId, lineIndex),
      lineIndex,
      text: words.map((w) => w.text).join(' '),
      ...(box ? { boundingBox: roundBox(box) } : {}),
      words,
    };
  });
}

function roundBox(b: BoundingBox): BoundingBox {
  return { x: r4(b.x), y: r4(b.y), width: r4(b.width), height: r4(b.height) };
}

/** A stable uuid-shaped image id for a generated receipt (the seed's receipts belong to an image). */
export function imageIdOf(seed: number, receiptId: string): string {
  const rng = seededFor(seed, 'image', receiptId);
  const hex = Array.from({ length: 32 }, () => rng.int(0, 15).toString(16)).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}
