// Synthetic US receipts with labelled words, some labels planted wrong, and the truth to score against.
import { formatDate, formatTime, daysInMonth, toIsoDateTime, DATE_FORMATS, TIME_FORMATS } from './datetime';
import type { CalendarDate, ClockTime, DateFormat, TimeFormat } from './datetime';
import {
  CARD_PAYMENTS,
  CASH_PAYMENT,
  CASHIER_NAMES,
  CATEGORIES,
  CITIES,
  CLOSINGS,
  NAME_MIDDLES,
  NAME_PREFIXES,
  STREET_NAMES,
  STREET_SUFFIXES,
  SUBTOTAL_KEYWORDS,
  TAX_KEYWORDS,
  TAX_RATES_BP,
  TOTAL_KEYWORDS,
  type Category,
} from './generator-vocabulary';
import { emptyTruth, type Label, type Truth } from './llm-tasks';
import { formatMoney } from './money';
import {
  lineIdOf,
  wordIdOf,
  type Line,
  type Merchant,
  type Receipt,
  type Word,
  type WordLabel,
} from './receipt';
import { seededFor, type Rng } from './random';

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
  MERCHANT_NAME: ['ADDRESS_LINE', 'PRODUCT_NAME', 'OTHER'],
  ADDRESS_LINE: ['MERCHANT_NAME', 'PHONE_NUMBER', 'OTHER'],
  PHONE_NUMBER: ['ADDRESS_LINE', 'DATE'],
  DATE: ['TIME', 'PHONE_NUMBER'],
  TIME: ['DATE'],
  PRODUCT_NAME: ['MERCHANT_NAME', 'PAYMENT_METHOD', 'QUANTITY'],
  QUANTITY: ['UNIT_PRICE', 'PRODUCT_NAME'],
  UNIT_PRICE: ['LINE_TOTAL', 'QUANTITY'],
  LINE_TOTAL: ['UNIT_PRICE', 'TAX', 'SUBTOTAL'],
  SUBTOTAL: ['GRAND_TOTAL', 'LINE_TOTAL'],
  TAX: ['SUBTOTAL', 'LINE_TOTAL'],
  GRAND_TOTAL: ['SUBTOTAL', 'LINE_TOTAL'],
  PAYMENT_METHOD: ['PRODUCT_NAME', 'MERCHANT_NAME', 'OTHER'],
  OTHER: ['MERCHANT_NAME', 'PRODUCT_NAME'],
};

/** Tries at a fresh random merchant name before falling back to a numbered one. */
const MAX_NAME_ATTEMPTS = 50;
const PURCHASE_YEARS = { min: 2022, max: 2025 } as const;
const OPENING_HOURS = { first: 7, last: 21 } as const;
/** Share of line items bought one at a time (printed without quantity and unit price). */
const SINGLE_QUANTITY_SHARE = 0.7;

export function merchantIdOf(index: number): string {
  return `m-${String(index + 1).padStart(4, '0')}`;
}

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

/** How one merchant's point-of-sale system prints receipts; fixed per merchant. */
interface MerchantProfile {
  merchant: Merchant;
  category: Category;
  street: string;
  cityLine: string;
  storeNumber: string | undefined;
  phonePrefix: string | undefined;
  dateFormat: DateFormat;
  timeFormat: TimeFormat;
  dateTimeAtTop: boolean;
  showCashier: boolean;
  showItemCount: boolean;
  showTaxRate: boolean;
  itemStyle: 'qty-first' | 'qty-at';
  quantitySuffix: '' | 'x';
  dollarSign: boolean;
  subtotalKeyword: string;
  taxKeyword: string;
  totalKeyword: string;
  taxRateBp: number;
  cashShare: number;
  cards: readonly string[];
  catalog: ReadonlyArray<{ name: string; priceCents: number }>;
}

function merchantName(rng: Rng, category: Category, taken: ReadonlySet<string>, index: number): string {
  let name = '';
  for (let attempt = 0; attempt < MAX_NAME_ATTEMPTS; attempt++) {
    const middle = rng.chance(0.5) ? ` ${rng.pick(NAME_MIDDLES)}` : '';
    name = `${rng.pick(NAME_PREFIXES)}${middle} ${rng.pick(category.nameSuffixes)}`;
    if (!taken.has(name)) return name;
  }
  // Very large datasets exhaust the combinations; a store number keeps names unique.
  for (let n = index + 1; ; n++) {
    const numbered = `${name} #${n}`;
    if (!taken.has(numbered)) return numbered;
  }
}

function merchantProfile(seed: number, index: number, taken: ReadonlySet<string>): MerchantProfile {
  const merchantId = merchantIdOf(index);
  const rng = seededFor(seed, 'merchant', merchantId);
  const category = rng.pick(CATEGORIES);
  const name = merchantName(rng, category, taken, index);
  const place = rng.pick(CITIES);
  const street = `${rng.int(10, 9899)} ${rng.pick(STREET_NAMES)} ${rng.pick(STREET_SUFFIXES)}`;
  const cityLine = `${place.city}, ${place.state} ${String(rng.int(10001, 99950))}`;
  const phone = `(${rng.pick(place.areaCodes)}) ${rng.int(200, 999)}-${String(rng.int(0, 9999)).padStart(4, '0')}`;
  const catalogSize = rng.int(Math.min(12, category.products.length), category.products.length);
  return {
    merchant: { merchantId, name, address: `${street}, ${cityLine}`, phone },
    category,
    street,
    cityLine,
    storeNumber: rng.chance(0.4) ? String(rng.int(1, 9999)).padStart(4, '0') : undefined,
    phonePrefix: rng.pick([undefined, 'TEL', 'PHONE']),
    dateFormat: rng.pick(DATE_FORMATS),
    timeFormat: rng.pick(TIME_FORMATS),
    dateTimeAtTop: rng.chance(0.6),
    showCashier: rng.chance(0.5),
    showItemCount: rng.chance(0.5),
    showTaxRate: rng.chance(0.5),
    itemStyle: rng.pick(['qty-first', 'qty-at'] as const),
    quantitySuffix: rng.pick(['', 'x'] as const),
    dollarSign: rng.chance(0.3),
    subtotalKeyword: rng.pick(SUBTOTAL_KEYWORDS),
    taxKeyword: rng.pick(TAX_KEYWORDS),
    totalKeyword: rng.pick(TOTAL_KEYWORDS),
    taxRateBp: rng.pick(TAX_RATES_BP),
    cashShare: rng.float(0.05, 0.4),
    cards: rng.sample(CARD_PAYMENTS, 3),
    catalog: rng
      .sample(category.products, catalogSize)
      .map((product) => ({ name: product.name, priceCents: rng.int(product.minCents, product.maxCents) })),
  };
}

/** Text spans of one printed line; every whitespace-separated word of a span gets its label. */
type Segment = readonly [text: string, label?: Label];

interface LineItem {
  name: string;
  quantity: number;
  unitCents: number;
  totalCents: number;
}

function randomDate(rng: Rng): CalendarDate {
  const year = rng.int(PURCHASE_YEARS.min, PURCHASE_YEARS.max);
  const month = rng.int(1, 12);
  return { year, month, day: rng.int(1, daysInMonth(year, month)) };
}

function lineItems(rng: Rng, profile: MerchantProfile, opts: ResolvedGenerateOptions): LineItem[] {
  const n = rng.int(opts.minItems, opts.maxItems);
  // Distinct products while the catalog lasts, then repeats (a long receipt buys twice).
  const products = rng.sample(profile.catalog, n);
  while (products.length < n) products.push(rng.pick(profile.catalog));
  return products.map((product) => {
    const quantity = rng.chance(SINGLE_QUANTITY_SHARE) ? 1 : rng.int(2, profile.category.maxQuantity);
    return {
      name: product.name,
      quantity,
      unitCents: product.priceCents,
      totalCents: quantity * product.priceCents,
    };
  });
}

function itemLine(item: LineItem, profile: MerchantProfile, money: (cents: number) => string): Segment[] {
  if (item.quantity === 1)
    return [
      [item.name, 'PRODUCT_NAME'],
      [money(item.totalCents), 'LINE_TOTAL'],
    ];
  const quantity = `${item.quantity}${profile.quantitySuffix}`;
  const unit = money(item.unitCents);
  const total = money(item.totalCents);
  return profile.itemStyle === 'qty-first'
    ? [
        [quantity, 'QUANTITY'],
        [item.name, 'PRODUCT_NAME'],
        [unit, 'UNIT_PRICE'],
        [total, 'LINE_TOTAL'],
      ]
    : [
        [item.name, 'PRODUCT_NAME'],
        [String(item.quantity), 'QUANTITY'],
        ['@'],
        [unit, 'UNIT_PRICE'],
        [total, 'LINE_TOTAL'],
      ];
}

function taxRateText(bp: number): string {
  return `${(bp / 100).toFixed(bp % 100 === 0 ? 0 : 2)}%`;
}

function receiptLayout(
  rng: Rng,
  profile: MerchantProfile,
  opts: ResolvedGenerateOptions,
): { lines: Segment[][]; purchasedAt: string } {
  const money = (cents: number): string => formatMoney(cents, { dollarSign: profile.dollarSign });
  const date = randomDate(rng);
  const time: ClockTime = { hour: rng.int(OPENING_HOURS.first, OPENING_HOURS.last), minute: rng.int(0, 59) };
  const items = lineItems(rng, profile, opts);
  const subtotal = items.reduce((sum, item) => sum + item.totalCents, 0);
  const tax = Math.round((subtotal * profile.taxRateBp) / 10_000);
  const total = subtotal + tax;
  const { merchant } = profile;

  const dateTime: Segment[] = [
    [formatDate(date, profile.dateFormat), 'DATE'],
    [formatTime(time, profile.timeFormat), 'TIME'],
  ];
  const lines: Segment[][] = [[[merchant.name, 'MERCHANT_NAME']]];
  if (profile.storeNumber) lines.push([[`STORE #${profile.storeNumber}`]]);
  lines.push([[profile.street, 'ADDRESS_LINE']], [[profile.cityLine, 'ADDRESS_LINE']]);
  lines.push([
    ...(profile.phonePrefix ? [[profile.phonePrefix] as const] : []),
    [merchant.phone, 'PHONE_NUMBER'],
  ]);
  if (profile.dateTimeAtTop) lines.push(dateTime);
  if (profile.showCashier) lines.push([['CASHIER'], [rng.pick(CASHIER_NAMES), 'OTHER']]);

  for (const item of items) lines.push(itemLine(item, profile, money));

  if (profile.showItemCount) {
    lines.push([[`ITEMS SOLD ${items.reduce((sum, item) => sum + item.quantity, 0)}`]]);
  }
  lines.push([[profile.subtotalKeyword], [money(subtotal), 'SUBTOTAL']]);
  const rateText: Segment[] =
    profile.showTaxRate && profile.taxRateBp > 0 ? [[taxRateText(profile.taxRateBp)]] : [];
  lines.push([[profile.taxKeyword], ...rateText, [money(tax), 'TAX']]);
  lines.push([[profile.totalKeyword], [money(total), 'GRAND_TOTAL']]);
  if (rng.chance(profile.cashShare)) {
    const tendered = Math.ceil(total / 2000) * 2000;
    lines.push([[CASH_PAYMENT, 'PAYMENT_METHOD'], [money(tendered)]]);
    lines.push([['CHANGE'], [money(tendered - total)]]);
  } else {
    const last4 = String(rng.int(0, 9999)).padStart(4, '0');
    lines.push([[rng.pick(profile.cards), 'PAYMENT_METHOD'], [`XXXXXXXXXXXX${last4}`]]);
  }
  if (!profile.dateTimeAtTop) lines.push(dateTime);
  lines.push([[rng.pick(CLOSINGS)]]);
  return { lines, purchasedAt: toIsoDateTime(date, time) };
}

function toLines(receiptId: string, layout: readonly Segment[][]): Line[] {
  return layout.map((segments, lineIndex) => {
    const words: Word[] = [];
    for (const [text, label] of segments) {
      for (const token of text.split(/\s+/).filter(Boolean)) {
        const wordIndex = words.length;
        words.push({
          wordId: wordIdOf(receiptId, lineIndex, wordIndex),
          lineIndex,
          wordIndex,
          text: token,
          ...(label ? { label: { label, validationStatus: 'VALID', source: GENERATED_LABEL_SOURCE } } : {}),
        });
      }
    }
    return {
      lineId: lineIdOf(receiptId, lineIndex),
      lineIndex,
      text: words.map((w) => w.text).join(' '),
      words,
    };
  });
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
      const layout = receiptLayout(seededFor(opts.seed, 'receipt', receiptId), profile, opts);
      receipts.push({
        receiptId,
        merchantId,
        merchantName: name,
        purchasedAt: layout.purchasedAt,
        lines: toLines(receiptId, layout.lines),
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
