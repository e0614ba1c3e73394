// Import of receipts from a JSON file (documented in docs/DATA_MODEL.md): each record validated,
// bad records rejected with reasons, the good ones turned into Receipts with stable ids.
import { z } from 'zod';
import { VALIDATION_STATUSES, lineIdOf, wordIdOf, type Receipt } from './receipt';
import { LabelReader, type ImportFormat, type ImportResult } from './import-common';
import { parseDynamoExportFile } from './import-dynamo';
import { parseLayoutLmFile } from './import-layoutlm';
import type { Label } from './labels';
import { validateReceiptShape } from './rules';
import { idProblem, type IdKind } from './ids';
import { MAX_IMPORT_FIELD_TEXT, MAX_WORD_TEXT } from './bounded-text';

/** An id field: the shape every id must have before it becomes a key (domain/ids.ts). */
const idSchema = (kind: IdKind) =>
  z.string().superRefine((value, ctx) => {
    const problem = idProblem(kind, value);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });
const fieldText = z.string().min(1).max(MAX_IMPORT_FIELD_TEXT);

export { IMPORT_FORMATS, type ImportFormat, type ImportResult } from './import-common';

/** Parses an import file of any supported format (`native`: this project's own, documented in DATA_MODEL.md). */
export function parseImport(text: string, format: ImportFormat = 'native'): ImportResult {
  if (format === 'layoutlm') return parseLayoutLmFile(text);
  if (format === 'dynamo-export') return parseDynamoExportFile(text);
  return parseImportFile(text);
}

/** Core labels and aliases (`BUSINESS_NAME`); `OTHER`/`O` mean no label; anything else is refused. */
const importLabelSchema = z.string().transform((raw, ctx): Label | undefined => {
  const read = nativeLabels.read(raw);
  if ('problem' in read) {
    ctx.addIssue({ code: 'custom', message: read.problem });
    return z.NEVER;
  }
  return read.label ?? undefined;
});
/** Alias counts of the file being parsed (parsing is synchronous, so one reader at a time). */
let nativeLabels = new LabelReader();

const importWordSchema = z.object({
  text: z.string().min(1).max(MAX_WORD_TEXT),
  label: importLabelSchema.optional(),
  validationStatus: z.enum(VALIDATION_STATUSES).optional(),
});

const importReceiptSchema = z.object({
  receiptId: idSchema('receipt id'),
  merchantId: idSchema('merchant id'),
  merchantName: fieldText,
  purchasedAt: fieldText,
  lines: z.array(z.object({ words: z.array(importWordSchema) })),
});

const importFileSchema = z.object({
  merchants: z
    .array(
      z.object({
        merchantId: idSchema('merchant id'),
        name: fieldText,
        address: z.string().max(MAX_IMPORT_FIELD_TEXT).default(''),
        phone: z.string().max(MAX_IMPORT_FIELD_TEXT).default(''),
      }),
    )
    .default([]),
  receipts: z.array(z.unknown()),
});

export function parseImportFile(text: string): ImportResult {
  nativeLabels = new LabelReader();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new Error(`Import file is not valid JSON: ${(err as Error).message}`);
  }
  const file = importFileSchema.safeParse(json);
  if (!file.success)
    throw new Error(
      `Import file must be {"merchants"?: [...], "receipts": [...]}: ${file.error.issues
        .map((i) => `${i.path.join('.')}: ${i.message}`)
        .join('; ')}`,
    );
  const merchants = new Map(file.data.merchants.map((m) => [m.merchantId, m]));
  const receipts: Receipt[] = [];
  const rejected: ImportResult['rejected'] = [];
  const seen = new Set<string>();
  file.data.receipts.forEach((raw, index) => {
    const parsed = importReceiptSchema.safeParse(raw);
    const receiptId = (raw as { receiptId?: unknown })?.receiptId;
    if (!parsed.success) {
      rejected.push({
        index,
        ...(typeof receiptId === 'string' ? { receiptId } : {}),
        reasons: parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`),
      });
      return;
    }
    const r = parsed.data;
    if (seen.has(r.receiptId)) {
      rejected.push({ index, receiptId: r.receiptId, reasons: [`duplicated receiptId ${r.receiptId}`] });
      return;
    }
    const receipt: Receipt = {
      receiptId: r.receiptId,
      merchantId: r.merchantId,
      merchantName: r.merchantName,
      purchasedAt: r.purchasedAt,
      lines: r.lines.map((l, lineIndex) => ({
        lineId: lineIdOf(r.receiptId, lineIndex),
        lineIndex,
        text: l.words.map((w) => w.text).join(' '),
        words: l.words.map((w, wordIndex) => ({
          wordId: wordIdOf(r.receiptId, lineIndex, wordIndex),
          lineIndex,
          wordIndex,
          text: w.text,
          ...(w.label
            ? {
                label: {
                  label: w.label,
                  validationStatus: w.validationStatus ?? 'PENDING',
                  source: 'import',
                },
              }
            : {}),
        })),
      })),
    };
    const problems = validateReceiptShape(receipt);
    if (problems.length) {
      rejected.push({ index, receiptId: r.receiptId, reasons: problems });
      return;
    }
    seen.add(r.receiptId);
    receipts.push(receipt);
    if (!merchants.has(r.merchantId)) {
      merchants.set(r.merchantId, { merchantId: r.merchantId, name: r.merchantName, address: '', phone: '' });
    }
  });
  const aliases = nativeLabels.aliases;
  return {
    merchants: [...merchants.values()],
    receipts,
    rejected,
    ...(Object.keys(aliases).length ? { aliases } : {}),
  };
}
