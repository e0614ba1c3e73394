// Synthetic US receipts with labelled words, some labels planted wrong, and the truth to score against.
import { imageIdOf, layoutToLines } from './generator-geometry';
import { receiptLayout } from './generator-layout';
import { merchantProfile, type MerchantProfile } from './generator-profile';
import { emptyTruth, type Label, type Truth } from '../../src/domain/llm-tasks';
import type { Merchant, Receipt, WordLabel } from '../../src/domain/receipt';
import { seededFor } from './random';

export { merchantIdOf } from './generator-profile';

export interface GenerateOptions {
  /** How many merchants (each with a unique name). */
  merchants: number;
  /** Receipts per merchant: one count for all, or one count per merchant (skewed datasets). */
  receiptsPerMerchant: number | readonly number[];
  /** Same seed and options give an identical dataset. */
  seed: number;
  /** Fraction of labelled words given a plausible wrong label. @default 0.05 */
  errorRate?: number;
  /**
   * Fraction of labelled words whose status is PENDING (unverified labels from an upstream
   * labeler); the rest are VALID. Planted errors are always among the PENDING ones, so the
   * actual fraction is max(pendingRate, errorRate). @default 0.5
   */
  pendingRate?: number;
  /** Fewest line items on a receipt. @default 2 */
  minItems?: number;
  /** Most line items on a receipt. @default 12 */
  maxItems?: number;
}

export interface ResolvedGenerateOptions {
  merchants: number;
  /** One count per merchant. */
  receiptsPerMerchant: number[];
  seed: number;
  errorRate: number;
  pendingRate: number;
  minItems: number;
  maxItems: number;
}

export interface PlantedError {
  wordId: string;
  receiptId: string;
  trueLabel: Label;
  plantedLabel: Label;
}

export interface Dataset {
  merchants: Merchant[];
  receipts: Receipt[];
  /** `words` holds the true label of every labelled word; places and functions are empty. */
  truth: Truth;
  /** The words whose stored label is wrong, in receipt and word order. */
  planted: PlantedError[];
}

export const DEFAULT_ERROR_RATE = 0.05;
export const DEFAULT_PENDING_RATE = 0.5;
export const DEFAULT_MIN_ITEMS = 2;
export const DEFAULT_MAX_ITEMS = 12;
/** `source` of every label the generator writes (the upstream labeler it stands in for). */
export const GENERATED_LABEL_SOURCE = 'seed';

/**
 * Wrong labels an upstream labeler plausibly gives a word of each true label: neighbours on the
 * receipt (address vs merchant), look-alike values (date vs time), confusable amounts.
 */
export const PLAUSIBLE_CONFUSIONS: Readonly<Record<Label, readonly Label[]>> = {
  MERCHANT_NAME: ['ADDRESS_LINE', 'PRODUCT_NAME', 'WEBSITE'],
  STORE_HOURS: ['TIME', 'DATE'],
  PHONE_NUMBER: ['ADDRESS_LINE', 'DATE', 'LOYALTY_ID'],
  WEBSITE: ['MERCHANT_NAME', 'ADDRESS_LINE'],
  LOYALTY_ID: ['PAYMENT_METHOD', 'PHONE_NUMBER'],
  ADDRESS_LINE: ['MERCHANT_NAME', 'PHONE_NUMBER'],
  DATE: ['TIME', 'PHONE_NUMBER'],
  TIME: ['DATE', 'STORE_HOURS'],
  PAYMENT_METHOD: ['PRODUCT_NAME', 'MERCHANT_NAME', 'LOYALTY_ID'],
  COUPON: ['DISCOUNT', 'PRODUCT_NAME'],
  DISCOUNT: ['COUPON', 'LINE_TOTAL'],
  PRODUCT_NAME: ['MERCHANT_NAME', 'PAYMENT_METHOD', 'QUANTITY'],
  QUANTITY: ['UNIT_PRICE', 'PRODUCT_NAME'],
  UNIT_PRICE: ['LINE_TOTAL', 'QUANTITY'],
  LINE_TOTAL: ['UNIT_PRICE', 'TAX', 'SUBTOTAL'],
  SUBTOTAL: ['GRAND_TOTAL', 'LINE_TOTAL'],
  TAX: ['SUBTOTAL', 'LINE_TOTAL', 'TIP'],
  TIP: ['TAX', 'LINE_TOTAL'],
  GRAND_TOTAL: ['SUBTOTAL', 'LINE_TOTAL'],
  CHANGE: ['CASH_BACK', 'GRAND_TOTAL'],
  CASH_BACK: ['CHANGE', 'GRAND_TOTAL'],
  REFUND: ['LINE_TOTAL', 'DISCOUNT'],
};

export function receiptIdOf(merchantId: string, index: number): string {
  return `${merchantId}-r-${String(index + 1).padStart(5, '0')}`;
}

function rate(name: string, value: number): number {
  if (!(value >= 0 && value <= 1)) throw new RangeError(`${name} must be within [0, 1], got ${value}`);
  return value;
}

function count(name: string, value: number, min: number): number {
  if (!Number.isInteger(value) || value < min) {
    throw new RangeError(`${name} must be an integer >= ${min}, got ${value}`);
  }
  return value;
}

/** Applies defaults and validates; throws RangeError naming the bad option. */
export function resolveGenerateOptions(opts: GenerateOptions): ResolvedGenerateOptions {
  const merchants = count('merchants', opts.merchants, 0);
  const perMerchant =
    typeof opts.receiptsPerMerchant === 'number'
      ? Array.from({ length: merchants }, () => opts.receiptsPerMerchant as number)
      : [...opts.receiptsPerMerchant];
  if (perMerchant.length !== merchants) {
    throw new RangeError(
      `receiptsPerMerchant has ${perMerchant.length} counts for ${merchants} merchants; give one count per merchant or a single number`,
    );
  }
  perMerchant.forEach((n, i) => count(`receiptsPerMerchant[${i}]`, n, 0));
  if (!Number.isFinite(opts.seed)) throw new RangeError(`seed must be a finite number, got ${opts.seed}`);
  const minItems = count('minItems', opts.minItems ?? DEFAULT_MIN_ITEMS, 1);
  const maxItems = count('maxItems', opts.maxItems ?? DEFAULT_MAX_ITEMS, 1);
  if (minItems > maxItems) throw new RangeError(`minItems ${minItems} exceeds maxItems ${maxItems}`);
  return {
    merchants,
    receiptsPerMerchant: perMerchant,
    seed: opts.seed,
    errorRate: rate('errorRate', opts.errorRate ?? DEFAULT_ERROR_RATE),
    pendingRate: rate('pendingRate', opts.pendingRate ?? DEFAULT_PENDING_RATE),
    minItems,
    maxItems,
  };
}

/**
 * Builds merchants and their receipts, then plants label errors and marks labels PENDING.
 * Pure: the same options give a deep-equal dataset.
 */
export function generateDataset(options: GenerateOptions): Dataset {
  const opts = resolveGenerateOptions(options);
  const taken = new Set<string>();
  const profiles: MerchantProfile[] = [];
  for (let i = 0; i < opts.merchants; i++) {
    const profile = merchantProfile(opts.seed, i, taken);
    taken.add(profile.merchant.name);
    profiles.push(profile);
  }

  const receipts: Receipt[] = [];
  profiles.forEach((profile, m) => {
    const { merchantId, name } = profile.merchant;
    const n = opts.receiptsPerMerchant[m] ?? 0;
    for (let r = 0; r < n; r++) {
      const receiptId = receiptIdOf(merchantId, r);
      const layout = receiptLayout(opts.seed, receiptId, profile, opts);
      receipts.push({
        receiptId,
        merchantId,
        merchantName: name,
        purchasedAt: layout.purchasedAt,
        imageId: imageIdOf(opts.seed, receiptId),
        receiptNumber: 1,
        lines: layoutToLines(receiptId, layout.lines, GENERATED_LABEL_SOURCE),
      });
    }
  });

  const truth = emptyTruth(opts.seed);
  const labelled: Array<{ receiptId: string; wordId: string; label: WordLabel }> = [];
  for (const receipt of receipts) {
    for (const line of receipt.lines) {
      for (const word of line.words) {
        if (!word.label) continue;
        truth.words[word.wordId] = { label: word.label.label };
        labelled.push({ receiptId: receipt.receiptId, wordId: word.wordId, label: word.label });
      }
    }
  }

  // Exact counts (rounded) rather than per-word coin flips, so small datasets still get errors.
  const indexes = labelled.map((_, i) => i);
  const plantedCount = Math.round(opts.errorRate * labelled.length);
  const plantedIndexes = new Set(seededFor(opts.seed, 'plant').sample(indexes, plantedCount));
  const pendingCount = Math.max(0, Math.round(opts.pendingRate * labelled.length) - plantedCount);
  const pendingIndexes = new Set(
    seededFor(opts.seed, 'pending').sample(
      indexes.filter((i) => !plantedIndexes.has(i)),
      pendingCount,
    ),
  );

  const confusionRng = seededFor(opts.seed, 'confusion');
  const planted: PlantedError[] = [];
  // The label objects belong to the freshly built receipts, so editing them in place is safe.
  labelled.forEach(({ receiptId, wordId, label }, i) => {
    if (plantedIndexes.has(i)) {
      const trueLabel = label.label;
      const plantedLabel = confusionRng.pick(PLAUSIBLE_CONFUSIONS[trueLabel]);
      label.label = plantedLabel;
      label.validationStatus = 'PENDING';
      planted.push({ wordId, receiptId, trueLabel, plantedLabel });
    } else if (pendingIndexes.has(i)) {
      label.validationStatus = 'PENDING';
    }
  });

  return { merchants: profiles.map((p) => p.merchant), receipts, truth, planted };
}
