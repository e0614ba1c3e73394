// How one synthetic merchant's point-of-sale system prints receipts: fixed per merchant, seeded.
import { DATE_FORMATS, TIME_FORMATS, type DateFormat, type TimeFormat } from '../../src/domain/datetime';
import {
  CARD_PAYMENTS,
  CATEGORIES,
  CITIES,
  LOYALTY_KEYWORDS,
  NAME_MIDDLES,
  NAME_PREFIXES,
  STORE_HOURS_TEXTS,
  STREET_NAMES,
  STREET_SUFFIXES,
  SUBTOTAL_KEYWORDS,
  TAX_KEYWORDS,
  TAX_RATES_BP,
  TOTAL_KEYWORDS,
  WEBSITE_SUFFIXES,
  type Category,
} from './generator-vocabulary';
import type { Merchant } from '../../src/domain/receipt';
import { seededFor, type Rng } from './random';

export interface MerchantProfile {
  merchant: Merchant;
  category: Category;
  street: string;
  cityLine: string;
  storeNumber: string | undefined;
  phonePrefix: string | undefined;
  /** Printed opening hours, at the top or (`hoursAtTop` false) the bottom. */
  hours: string | undefined;
  hoursAtTop: boolean;
  /** Printed website, at the bottom. */
  website: string | undefined;
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
  /** Share of receipts with a loyalty number, and the words printed before it. */
  loyaltyShare: number;
  loyaltyKeyword: string;
  /** Shares of receipts with a coupon, a discount, a tip, cash back (debit) and a refund. */
  couponShare: number;
  discountShare: number;
  tipShare: number;
  cashBackShare: number;
  refundShare: number;
  catalog: ReadonlyArray<{ name: string; priceCents: number }>;
}

/** Tries at a fresh random merchant name before falling back to a numbered one. */
const MAX_NAME_ATTEMPTS = 50;

export function merchantIdOf(index: number): string {
  return `m-${String(index + 1).padStart(4, '0')}`;
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

/** `www.blueoakmarket.com` from `BLUE OAK MARKET`. */
function websiteOf(rng: Rng, name: string): string {
  const host = name.toLowerCase().replace(/[^a-z0-9]+/g, '');
  return `${rng.chance(0.6) ? 'www.' : ''}${host}${rng.pick(WEBSITE_SUFFIXES)}`;
}

/** The seed-stable part that existed before the extended vocabulary (drawn first, in this order). */
function printingStyle(rng: Rng, category: Category) {
  return {
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
    catalogSize: rng.int(Math.min(12, category.products.length), category.products.length),
  };
}

export function merchantProfile(seed: number, index: number, taken: ReadonlySet<string>): MerchantProfile {
  const merchantId = merchantIdOf(index);
  const rng = seededFor(seed, 'merchant', merchantId);
  const category = rng.pick(CATEGORIES);
  const name = merchantName(rng, category, taken, index);
  const place = rng.pick(CITIES);
  const street = `${rng.int(10, 9899)} ${rng.pick(STREET_NAMES)} ${rng.pick(STREET_SUFFIXES)}`;
  const cityLine = `${place.city}, ${place.state} ${String(rng.int(10001, 99950))}`;
  const phone = `(${rng.pick(place.areaCodes)}) ${rng.int(200, 999)}-${String(rng.int(0, 9999)).padStart(4, '0')}`;
  const { catalogSize, ...style } = printingStyle(rng, category);
  const catalog = rng
    .sample(category.products, catalogSize)
    .map((product) => ({ name: product.name, priceCents: rng.int(product.minCents, product.maxCents) }));
  // The extended vocabulary draws from its own stream, so older datasets keep their receipts.
  const extra = seededFor(seed, 'merchant-extras', merchantId);
  return {
    merchant: { merchantId, name, address: `${street}, ${cityLine}`, phone },
    category,
    street,
    cityLine,
    ...style,
    hours: extra.chance(0.7) ? extra.pick(STORE_HOURS_TEXTS) : undefined,
    hoursAtTop: extra.chance(0.5),
    website: extra.chance(0.7) ? websiteOf(extra, name) : undefined,
    loyaltyShare: extra.chance(0.7) ? extra.float(0.3, 0.8) : 0,
    loyaltyKeyword: extra.pick(LOYALTY_KEYWORDS),
    couponShare: extra.float(0.05, 0.3),
    discountShare: extra.float(0.05, 0.3),
    // Table service and counters with a tip jar tip often; elsewhere a tip is a rare delivery tip.
    tipShare: ['cafe', 'bakery'].includes(category.key) ? extra.float(0.4, 0.8) : extra.float(0.02, 0.1),
    cashBackShare: extra.float(0.05, 0.25),
    refundShare: extra.float(0.02, 0.1),
    catalog,
  };
}
