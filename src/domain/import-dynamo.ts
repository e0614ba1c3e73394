// The seed project's DynamoDB export: a JSON array of its items (Receipt, ReceiptLine, ReceiptWord,
// ReceiptWordLabel; plain JSON or DynamoDB-typed `{"S": ...}`), assembled into receipts. A bad item
// is rejected on its own; a receipt is rejected only when what is left of it cannot be evaluated.
import { z } from 'zod';
import { ImportCollector, clampBox, parseJsonFile, receiptFrom, type ImportResult } from './import-common';
import type { Label } from './labels';
import {
  VALIDATION_STATUSES,
  lineIdOf,
  unionBox,
  wordIdOf,
  type Line,
  type PastLabel,
  type ValidationStatus,
  type Word,
  type WordLabel,
} from './receipt';

const id = z.coerce.number().int().min(0);
const boxSchema = z.object({ x: z.number(), y: z.number(), width: z.number(), height: z.number() });
const keySchema = z.object({ image_id: z.string().min(1), receipt_id: id });
const lineSchema = keySchema.extend({ line_id: id, text: z.string(), bounding_box: boxSchema.optional() });
const wordSchema = lineSchema.extend({ word_id: id, text: z.string().min(1, 'text must not be empty') });
const labelSchema = keySchema.extend({
  line_id: id,
  word_id: id,
  label: z.string(),
  validation_status: z.enum(VALIDATION_STATUSES).default('NONE'),
  label_proposed_by: z.string().nullish(),
  reasoning: z.string().nullish(),
});

type Kind = 'RECEIPT' | 'RECEIPT_LINE' | 'RECEIPT_WORD' | 'RECEIPT_WORD_LABEL' | 'RECEIPT_METADATA';

/** DynamoDB-typed JSON (`{"S": "x"}`, `{"N": "1"}`, `{"M": {...}}`) as plain values. */
function unmarshal(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(unmarshal);
  if (!v || typeof v !== 'object') return v;
  const entries = Object.entries(v as Record<string, unknown>);
  if (entries.length === 1) {
    const [tag, inner] = entries[0]!;
    if (tag === 'S' || tag === 'BOOL') return inner;
    if (tag === 'N') return Number(inner);
    if (tag === 'NULL') return null;
    if (tag === 'L') return (inner as unknown[]).map(unmarshal);
    if (tag === 'M') return unmarshal(inner);
  }
  return Object.fromEntries(entries.map(([k, x]) => [k, unmarshal(x)]));
}

/** The item's kind from its `TYPE` (or `type`) attribute, else from the fields it has. */
function kindOf(item: Record<string, unknown>): Kind | undefined {
  const t = String(item.TYPE ?? item.type ?? '').toUpperCase();
  if (['RECEIPT', 'RECEIPT_LINE', 'RECEIPT_WORD', 'RECEIPT_WORD_LABEL', 'RECEIPT_METADATA'].includes(t))
    return t as Kind;
  if ('label' in item && 'word_id' in item) return 'RECEIPT_WORD_LABEL';
  if ('word_id' in item) return 'RECEIPT_WORD';
  if ('line_id' in item) return 'RECEIPT_LINE';
  if ('merchant_name' in item) return 'RECEIPT_METADATA';
  if ('image_id' in item && 'receipt_id' in item) return 'RECEIPT';
  return undefined;
}

interface Assembly {
  index: number;
  imageId: string;
  receiptNumber: number;
  merchantName?: string;
  date?: string;
  lines: Map<number, { text: string; box?: z.infer<typeof boxSchema> }>;
  words: Map<string, z.infer<typeof wordSchema> & { index: number }>;
  labels: Map<string, Array<{ label: Label; status: ValidationStatus; source: string; reason?: string }>>;
}

const STATUS_PRIORITY: readonly ValidationStatus[] = ['VALID', 'PENDING', 'NEEDS_REVIEW', 'NONE', 'INVALID'];
const wordKey = (line: number, word: number) => `${line}#${word}`;

function issuesOf(err: z.ZodError): string[] {
  return err.issues.map((i) => `${i.path.join('.') || 'item'}: ${i.message}`);
}

class DynamoExportReader {
  readonly receipts = new Map<string, Assembly>();
  readonly out = new ImportCollector();

  private assembly(index: number, imageId: string, receiptNumber: number): Assembly {
    const key = `${imageId}#${receiptNumber}`;
    let a = this.receipts.get(key);
    if (!a) {
      a = { index, imageId, receiptNumber, lines: new Map(), words: new Map(), labels: new Map() };
      this.receipts.set(key, a);
    }
    return a;
  }

  /** Files one item under its receipt, or rejects it with the reasons. */
  read(raw: unknown, index: number): void {
    const item = unmarshal(raw) as Record<string, unknown>;
    const kind = item && typeof item === 'object' ? kindOf(item) : undefined;
    if (!kind)
      return this.out.reject(index, ['not a Receipt, ReceiptLine, ReceiptWord or ReceiptWordLabel item']);
    const key = keySchema.safeParse(item);
    if (!key.success) return this.out.reject(index, issuesOf(key.error));
    const a = this.assembly(index, key.data.image_id, key.data.receipt_id);
    const receiptId = `${a.imageId}_${a.receiptNumber}`;
    if (kind === 'RECEIPT' || kind === 'RECEIPT_METADATA') {
      if (typeof item.merchant_name === 'string' && item.merchant_name) a.merchantName = item.merchant_name;
      if (typeof item.date === 'string') a.date = item.date;
      return;
    }
    const schema = kind === 'RECEIPT_LINE' ? lineSchema : kind === 'RECEIPT_WORD' ? wordSchema : labelSchema;
    const parsed = schema.safeParse(item);
    if (!parsed.success) return this.out.reject(index, issuesOf(parsed.error), receiptId);
    if (kind === 'RECEIPT_LINE') {
      const l = parsed.data as z.infer<typeof lineSchema>;
      a.lines.set(l.line_id, { text: l.text, ...(l.bounding_box ? { box: l.bounding_box } : {}) });
    } else if (kind === 'RECEIPT_WORD') {
      const w = parsed.data as z.infer<typeof wordSchema>;
      a.words.set(wordKey(w.line_id, w.word_id), { ...w, index });
    } else {
      const l = parsed.data as z.infer<typeof labelSchema>;
      const read = this.out.labels.read(l.label);
      if ('problem' in read) return this.out.reject(index, [read.problem], receiptId);
      if (!read.label) return;
      const list = a.labels.get(wordKey(l.line_id, l.word_id)) ?? [];
      list.push({
        label: read.label,
        status: l.validation_status,
        source: l.label_proposed_by || 'import',
        ...(l.reasoning ? { reason: l.reasoning } : {}),
      });
      a.labels.set(wordKey(l.line_id, l.word_id), list);
    }
  }

  /** The word's current label (VALID first, INVALID last) and the others as its past labels. */
  private labelsOf(candidates: Assembly['labels'] extends Map<string, infer V> ? V : never) {
    const ordered = [...candidates].sort(
      (x, y) => STATUS_PRIORITY.indexOf(x.status) - STATUS_PRIORITY.indexOf(y.status),
    );
    const [current, ...rest] = ordered;
    const label: WordLabel | undefined = current && {
      label: current.label,
      validationStatus: current.status,
      source: current.source,
      ...(current.reason ? { reason: current.reason } : {}),
    };
    const past: PastLabel[] = rest.map((p) => ({
      label: p.label,
      validationStatus: p.status,
      source: p.source,
      ...(p.reason ? { reason: p.reason } : {}),
    }));
    return { label, past };
  }

  /** The receipt's lines in line_id order, words in word_id order; words of unknown lines rejected. */
  private linesOf(a: Assembly, receiptId: string): Line[] {
    const lineIds = [...new Set([...a.lines.keys()])].sort((x, y) => x - y);
    return lineIds.map((lineId, lineIndex) => {
      const words = [...a.words.values()]
        .filter((w) => w.line_id === lineId)
        .sort((x, y) => x.word_id - y.word_id)
        .map((w, wordIndex): Word => {
          const { label, past } = this.labelsOf(a.labels.get(wordKey(w.line_id, w.word_id)) ?? []);
          return {
            wordId: wordIdOf(receiptId, lineIndex, wordIndex),
            lineIndex,
            wordIndex,
            text: w.text.trim(),
            ...(w.bounding_box ? { boundingBox: clampBox(w.bounding_box) } : {}),
            ...(label ? { label } : {}),
            ...(past.length ? { pastLabels: past } : {}),
          };
        });
      const line = a.lines.get(lineId)!;
      const box = line.box ? clampBox(line.box) : unionBox(words.map((w) => w.boundingBox));
      return {
        lineId: lineIdOf(receiptId, lineIndex),
        lineIndex,
        text: words.length ? words.map((w) => w.text).join(' ') : line.text,
        ...(box ? { boundingBox: box } : {}),
        words,
      };
    });
  }

  /** Assembles each receipt; words whose line is missing are rejected item by item. */
  finish(): ImportResult {
    for (const a of this.receipts.values()) {
      const receiptId = `${a.imageId}_${a.receiptNumber}`;
      for (const w of a.words.values())
        if (!a.lines.has(w.line_id))
          this.out.reject(
            w.index,
            [`word ${w.word_id} of line ${w.line_id}: the export has no such line`],
            receiptId,
          );
      const lines = this.linesOf(a, receiptId).filter((l) => l.words.length > 0);
      const receipt = receiptFrom({
        receiptId,
        imageId: a.imageId,
        receiptNumber: a.receiptNumber,
        lines,
        merchantName: a.merchantName,
        ...(a.date !== undefined ? { date: a.date } : {}),
      });
      if (receipt) this.out.add(a.index, receipt);
      else
        this.out.reject(
          a.index,
          ['no merchant_name and no MERCHANT_NAME word: the merchant is unknown'],
          receiptId,
        );
    }
    return this.out.result();
  }
}

/** Parses a DynamoDB export of the seed's items into receipts; bad items are rejected with reasons. */
export function parseDynamoExportFile(text: string): ImportResult {
  const json = parseJsonFile(text, 'dynamo-export');
  const items: unknown[] | undefined = Array.isArray(json)
    ? json
    : Array.isArray((json as { Items?: unknown })?.Items)
      ? (json as { Items: unknown[] }).Items
      : undefined;
  if (!items) throw new Error('A dynamo-export file must be a JSON array of items (or {"Items": [...]})');
  const reader = new DynamoExportReader();
  items.forEach((item, index) => reader.read(item, index));
  return reader.finish();
}
