// The seed project's LayoutLM export: per receipt `{tokens, bboxes (0..1000), ner_tags (B-/I-/O),
// merchant_name, receipt_key "<image uuid>#<n>", metadata}`; one object per file or an array.
// Tokens become words; lines are rebuilt from the boxes.
import { z } from 'zod';
import {
  ImportCollector,
  clampBox,
  parseJsonFile,
  receiptFrom,
  type ImportResult,
  type LabelReader,
} from './import-common';
import type { Label } from './labels';
import { VALIDATION_STATUSES, lineIdOf, unionBox, wordIdOf, type BoundingBox, type Line } from './receipt';

/** LayoutLM boxes are integers on a 0..1000 scale. */
const LAYOUTLM_SCALE = 1000;

const layoutLmRecordSchema = z
  .object({
    tokens: z.array(z.string()).min(1, 'tokens: a receipt needs at least one token'),
    bboxes: z.array(z.tuple([z.number(), z.number(), z.number(), z.number()])),
    ner_tags: z.array(z.string()),
    merchant_name: z.string().nullish(),
    receipt_key: z
      .string()
      .regex(/^[0-9A-Za-z-]{1,80}#\d{1,6}$/, 'receipt_key must look like "<image uuid>#<n>"'),
    metadata: z.record(z.string(), z.unknown()).nullish(),
  })
  .refine((r) => r.bboxes.length === r.tokens.length && r.ner_tags.length === r.tokens.length, {
    message: 'tokens, bboxes and ner_tags must have the same length',
  });
type LayoutLmRecord = z.infer<typeof layoutLmRecordSchema>;

interface Token {
  text: string;
  box: BoundingBox;
  label: Label | null;
}

/**
 * Boxes in our convention (0..1, y = 0 at the bottom). The seed's exports grow y upwards; other
 * LayoutLM data grows it downwards. Tokens come in reading order, so when the first tokens sit
 * lower (smaller y) than the last ones, y grows downwards and is flipped.
 */
function toUnitBoxes(bboxes: ReadonlyArray<readonly [number, number, number, number]>): BoundingBox[] {
  const raw = bboxes.map(([a, b, c, d]) => {
    const [x0, x1] = a <= c ? [a, c] : [c, a];
    const [y0, y1] = b <= d ? [b, d] : [d, b];
    return { x0, x1, y0, y1 };
  });
  const tenth = Math.max(1, Math.floor(raw.length / 10));
  const centre = (r: (typeof raw)[number]) => (r.y0 + r.y1) / 2;
  const mean = (rs: typeof raw) => rs.reduce((s, r) => s + centre(r), 0) / rs.length;
  const growsDown = raw.length > 1 && mean(raw.slice(0, tenth)) < mean(raw.slice(-tenth));
  return raw.map(({ x0, x1, y0, y1 }) => {
    const [lo, hi] = growsDown ? [LAYOUTLM_SCALE - y1, LAYOUTLM_SCALE - y0] : [y0, y1];
    return clampBox({
      x: x0 / LAYOUTLM_SCALE,
      y: lo / LAYOUTLM_SCALE,
      width: (x1 - x0) / LAYOUTLM_SCALE,
      height: (hi - lo) / LAYOUTLM_SCALE,
    });
  });
}

/**
 * Groups tokens into printed lines: top to bottom, a token joins the line whose vertical centre is
 * within half its height; within a line, left to right.
 */
export function linesFromBoxes<T extends { box: BoundingBox }>(tokens: readonly T[]): T[][] {
  const centre = (t: T) => t.box.y + t.box.height / 2;
  const sorted = tokens.map((t, i) => ({ t, i })).sort((a, b) => centre(b.t) - centre(a.t) || a.i - b.i);
  const lines: Array<{ centre: number; height: number; tokens: T[] }> = [];
  for (const { t } of sorted) {
    const line = lines[lines.length - 1];
    const tolerance = Math.max(t.box.height, line?.height ?? 0) / 2;
    if (line && Math.abs(line.centre - centre(t)) <= tolerance) {
      line.tokens.push(t);
      continue;
    }
    lines.push({ centre: centre(t), height: t.box.height, tokens: [t] });
  }
  return lines.map((l) => [...l.tokens].sort((a, b) => a.box.x - b.box.x));
}

/** One LayoutLM record as a receipt, or the reasons it cannot be imported. */
function receiptOf(record: LayoutLmRecord, labels: LabelReader) {
  const problems: string[] = [];
  const boxes = toUnitBoxes(record.bboxes);
  const tokens: Token[] = record.tokens.map((text, i) => {
    const tag = record.ner_tags[i]!;
    const name = tag === 'O' ? 'O' : tag.replace(/^[BI]-/, '');
    const read = labels.read(name);
    if ('problem' in read) problems.push(`token ${i} ${JSON.stringify(text)}: ${read.problem}`);
    return { text: text.trim(), box: boxes[i]!, label: 'label' in read ? read.label : null };
  });
  const empty = tokens.findIndex((t) => !t.text);
  if (empty >= 0) problems.push(`token ${empty} is empty`);
  const [imageId = '', n = '1'] = record.receipt_key.split('#');
  const receiptId = `${imageId}_${Number(n)}`;
  if (problems.length) return { receiptId, problems };
  const rawStatus = record.metadata?.validation_status;
  const status = VALIDATION_STATUSES.find((s) => s === rawStatus) ?? 'PENDING';
  const lines: Line[] = linesFromBoxes(tokens).map((lineTokens, lineIndex) => ({
    lineId: lineIdOf(receiptId, lineIndex),
    lineIndex,
    text: lineTokens.map((t) => t.text).join(' '),
    boundingBox: unionBox(lineTokens.map((t) => t.box))!,
    words: lineTokens.map((t, wordIndex) => ({
      wordId: wordIdOf(receiptId, lineIndex, wordIndex),
      lineIndex,
      wordIndex,
      text: t.text,
      boundingBox: t.box,
      ...(t.label ? { label: { label: t.label, validationStatus: status, source: 'import' } } : {}),
    })),
  }));
  const date = record.metadata?.date;
  const receipt = receiptFrom({
    receiptId,
    imageId,
    receiptNumber: Number(n),
    lines,
    merchantName: record.merchant_name,
    ...(typeof date === 'string' && date ? { date } : {}),
  });
  if (!receipt)
    return { receiptId, problems: ['no merchant_name and no MERCHANT_NAME token: the merchant is unknown'] };
  return { receiptId, receipt };
}

/** Parses a LayoutLM export: one record or an array; each bad record is rejected with its reasons. */
export function parseLayoutLmFile(text: string): ImportResult {
  const json = parseJsonFile(text, 'layoutlm');
  const records: unknown[] = Array.isArray(json) ? json : [json];
  const out = new ImportCollector();
  records.forEach((raw, index) => {
    const parsed = layoutLmRecordSchema.safeParse(raw);
    const key = (raw as { receipt_key?: unknown } | null)?.receipt_key;
    if (!parsed.success) {
      out.reject(
        index,
        parsed.error.issues.map((i) => `${i.path.join('.') || 'record'}: ${i.message}`),
        typeof key === 'string' ? key : undefined,
      );
      return;
    }
    const r = receiptOf(parsed.data, out.labels);
    if (r.problems) out.reject(index, r.problems, r.receiptId);
    else out.add(index, r.receipt);
  });
  return out.result();
}
