// What every import format shares: the result and its rejections, label resolution with counted
// aliases, merchant ids from names, and the last checks a receipt passes before it is kept.
import { parseDate } from './datetime';
import { resolveLabel, unknownLabelMessage, type Label } from './labels';
import type { BoundingBox, Merchant, Receipt } from './receipt';
import { validateReceiptShape } from './rules';

export const IMPORT_FORMATS = ['native', 'layoutlm', 'dynamo-export'] as const;
export type ImportFormat = (typeof IMPORT_FORMATS)[number];

export interface ImportRejection {
  /** Position of the record in the file (for a whole receipt assembled from items: its first item). */
  index: number;
  receiptId?: string;
  reasons: string[];
}

export interface ImportResult {
  merchants: Merchant[];
  receipts: Receipt[];
  rejected: ImportRejection[];
  /** Alias -> how many labels it was mapped from (`BUSINESS_NAME`: 3 means 3 labels became MERCHANT_NAME). */
  aliases?: Record<string, number>;
}

/** Resolves input label names, counting aliases; unknown names are collected, not thrown. */
export class LabelReader {
  readonly aliases: Record<string, number> = {};

  /** The core label, null for "no label" (`O`, `OTHER`), or the reason it is unknown. */
  read(raw: string): { label: Label | null } | { problem: string } {
    const r = resolveLabel(raw);
    if (r.kind === 'none') return { label: null };
    if (r.kind === 'unknown') return { problem: unknownLabelMessage(raw) };
    if (r.alias) this.aliases[r.alias] = (this.aliases[r.alias] ?? 0) + 1;
    return { label: r.label };
  }
}

/** `m-green-leaf-market` from `GREEN LEAF MARKET`: one merchant per distinct name. */
export function merchantIdFromName(name: string): string {
  const slug = name
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 60);
  return `m-${slug || 'unnamed'}`;
}

/** Clamps a number into [lo, hi] (boxes at the image edge fall slightly outside). */
export function clamp(v: number, lo = 0, hi = 1): number {
  return Math.min(hi, Math.max(lo, v));
}

/** A box clamped into the unit square and rounded to 4 decimals. */
export function clampBox(b: BoundingBox): BoundingBox {
  const r4 = (x: number) => Math.round(x * 10_000) / 10_000;
  const x0 = clamp(b.x);
  const y0 = clamp(b.y);
  const x1 = clamp(b.x + b.width);
  const y1 = clamp(b.y + b.height);
  return { x: r4(x0), y: r4(y0), width: r4(Math.max(0, x1 - x0)), height: r4(Math.max(0, y1 - y0)) };
}

/** The merchant name: given, else the MERCHANT_NAME words of the receipt in reading order. */
export function merchantNameOf(given: unknown, receipt: Pick<Receipt, 'lines'>): string | undefined {
  if (typeof given === 'string' && given.trim()) return given.trim();
  const words = receipt.lines.flatMap((l) => l.words).filter((w) => w.label?.label === 'MERCHANT_NAME');
  const name = words
    .map((w) => w.text)
    .join(' ')
    .trim();
  return name || undefined;
}

/** An ISO date from the first DATE word that parses, else `unknown`. */
export function purchaseDateOf(receipt: Pick<Receipt, 'lines'>): string {
  for (const w of receipt.lines.flatMap((l) => l.words)) {
    if (w.label?.label !== 'DATE') continue;
    const d = parseDate(w.text);
    if (d) return `${d.year}-${String(d.month).padStart(2, '0')}-${String(d.day).padStart(2, '0')}`;
  }
  return 'unknown';
}

/** What an importer knows of one receipt: its ids and lines, and the merchant and date its export gives. */
export interface ReceiptParts {
  receiptId: string;
  imageId: string;
  receiptNumber: number;
  lines: Receipt['lines'];
  /** The export's merchant name, if any (else read from the MERCHANT_NAME words). */
  merchantName?: unknown;
  /** The export's purchase date, if any (else read from the first DATE word). */
  date?: string;
}

/** The receipt of an import, with its merchant id; undefined when its merchant is unknown. */
export function receiptFrom(parts: ReceiptParts): Receipt | undefined {
  const { receiptId, imageId, receiptNumber, lines } = parts;
  const merchantName = merchantNameOf(parts.merchantName, { lines });
  if (!merchantName) return undefined;
  return {
    receiptId,
    merchantId: merchantIdFromName(merchantName),
    merchantName,
    purchasedAt: parts.date ?? purchaseDateOf({ lines }),
    imageId,
    receiptNumber,
    lines,
  };
}

/**
 * Collects receipts and merchants; rejects a receipt whose shape is bad or whose id repeats. Its
 * label reader resolves the import's label names, so the result counts the aliases it met.
 */
export class ImportCollector {
  readonly labels = new LabelReader();
  private readonly merchants = new Map<string, Merchant>();
  private readonly receipts: Receipt[] = [];
  private readonly seen = new Set<string>();
  readonly rejected: ImportRejection[] = [];

  reject(index: number, reasons: string[], receiptId?: string): void {
    this.rejected.push({ index, ...(receiptId !== undefined ? { receiptId } : {}), reasons });
  }

  /** Keeps the receipt unless its shape is bad or its id was already imported. */
  add(index: number, receipt: Receipt): void {
    if (this.seen.has(receipt.receiptId)) {
      this.reject(index, [`duplicated receipt ${receipt.receiptId}`], receipt.receiptId);
      return;
    }
    const problems = validateReceiptShape(receipt);
    if (problems.length) {
      this.reject(index, problems, receipt.receiptId);
      return;
    }
    this.seen.add(receipt.receiptId);
    this.receipts.push(receipt);
    if (!this.merchants.has(receipt.merchantId))
      this.merchants.set(receipt.merchantId, {
        merchantId: receipt.merchantId,
        name: receipt.merchantName,
        address: '',
        phone: '',
      });
  }

  result(): ImportResult {
    const { aliases } = this.labels;
    return {
      merchants: [...this.merchants.values()],
      receipts: this.receipts,
      rejected: this.rejected.sort((a, b) => a.index - b.index),
      ...(Object.keys(aliases).length ? { aliases } : {}),
    };
  }
}

/** Parses JSON or throws an error saying the file is not JSON. */
export function parseJsonFile(text: string, format: ImportFormat): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new Error(`Import file (${format}) is not valid JSON: ${(err as Error).message}`);
  }
}
