// The printed lines of one synthetic receipt: text spans with the label each word of a span gets.
import { daysInMonth, formatDate, formatTime, toIsoDateTime } from '../../src/domain/datetime';
import type { CalendarDate, ClockTime } from '../../src/domain/datetime';
import {
  CASH_BACK_CENTS,
  CASH_PAYMENT,
  CASHIER_NAMES,
  CLOSINGS,
  COUPON_CODES,
  DISCOUNT_TEXTS,
  TIP_PERCENTS,
} from './generator-vocabulary';
import type { MerchantProfile } from './generator-profile';
import type { Label } from '../../src/domain/labels';
import { formatMoney } from '../../src/domain/money';
import { seededFor, type Rng } from './random';

/** Text spans of one printed line; every whitespace-separated word of a span gets its label. */
export type Segment = readonly [text: string, label?: Label];

export interface LayoutOptions {
  minItems: number;
  maxItems: number;
}

interface LineItem {
  name: string;
  quantity: number;
  unitCents: number;
  totalCents: number;
}

const PURCHASE_YEARS = { min: 2022, max: 2025 } as const;
const OPENING_HOURS = { first: 7, last: 21 } as const;
/** Share of line items bought one at a time (printed without quantity and unit price). */
const SINGLE_QUANTITY_SHARE = 0.7;

type Money = (cents: number) => string;

function randomDate(rng: Rng): CalendarDate {
  const year = rng.int(PURCHASE_YEARS.min, PURCHASE_YEARS.max);
  const month = rng.int(1, 12);
  return { year, month, day: rng.int(1, daysInMonth(year, month)) };
}

function lineItems(rng: Rng, profile: MerchantProfile, opts: LayoutOptions): LineItem[] {
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

function itemLine(item: LineItem, profile: MerchantProfile, money: Money): Segment[] {
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

/** Coupon, discount and tip of one receipt (in cents; 0 when absent), drawn from their own stream. */
interface Adjustments {
  coupon: { code: string; cents: number } | undefined;
  discount: { text: string; cents: number } | undefined;
  tipPercent: number;
}

function adjustments(rng: Rng, profile: MerchantProfile, subtotal: number): Adjustments {
  const coupon = rng.chance(profile.couponShare)
    ? {
        code: rng.pick(COUPON_CODES),
        cents: Math.min(rng.pick([50, 100, 200, 300, 500]), Math.floor(subtotal / 4)),
      }
    : undefined;
  const discount = rng.chance(profile.discountShare)
    ? { text: rng.pick(DISCOUNT_TEXTS), cents: Math.max(1, Math.round(subtotal * rng.float(0.03, 0.1))) }
    : undefined;
  return {
    coupon: coupon && coupon.cents > 0 ? coupon : undefined,
    discount,
    tipPercent: rng.chance(profile.tipShare) ? rng.pick(TIP_PERCENTS) : 0,
  };
}

/** SUBTOTAL, coupon, discount, TAX, TIP and GRAND_TOTAL lines; returns them with the total. */
function totalsLines(
  rng: Rng,
  profile: MerchantProfile,
  subtotal: number,
  money: Money,
): { lines: Segment[][]; total: number } {
  const adj = adjustments(rng, profile, subtotal);
  const taxable = subtotal - (adj.coupon?.cents ?? 0) - (adj.discount?.cents ?? 0);
  const tax = Math.round((taxable * profile.taxRateBp) / 10_000);
  const tip = Math.round((taxable * adj.tipPercent) / 100);
  const total = taxable + tax + tip;
  const lines: Segment[][] = [[[profile.subtotalKeyword], [money(subtotal), 'SUBTOTAL']]];
  if (adj.coupon)
    lines.push([
      [adj.coupon.code, 'COUPON'],
      [money(-adj.coupon.cents), 'COUPON'],
    ]);
  if (adj.discount) lines.push([[adj.discount.text], [money(-adj.discount.cents), 'DISCOUNT']]);
  const rateText: Segment[] =
    profile.showTaxRate && profile.taxRateBp > 0 ? [[taxRateText(profile.taxRateBp)]] : [];
  lines.push([[profile.taxKeyword], ...rateText, [money(tax), 'TAX']]);
  if (tip > 0) lines.push([['TIP'], [money(tip), 'TIP']]);
  lines.push([[profile.totalKeyword], [money(total), 'GRAND_TOTAL']]);
  return { lines, total };
}

/** Payment lines: cash with CHANGE, or a card (a debit card sometimes with CASH_BACK). */
function paymentLines(
  rng: Rng,
  extra: Rng,
  profile: MerchantProfile,
  total: number,
  money: Money,
): Segment[][] {
  if (rng.chance(profile.cashShare)) {
    const tendered = Math.ceil(total / 2000) * 2000;
    return [
      [[CASH_PAYMENT, 'PAYMENT_METHOD'], [money(tendered)]],
      [['CHANGE'], [money(tendered - total), 'CHANGE']],
    ];
  }
  const last4 = String(rng.int(0, 9999)).padStart(4, '0');
  const card = rng.pick(profile.cards);
  const lines: Segment[][] = [[[card, 'PAYMENT_METHOD'], [`XXXXXXXXXXXX${last4}`]]];
  if (extra.chance(profile.cashBackShare))
    lines.push([['CASH BACK'], [money(extra.pick(CASH_BACK_CENTS)), 'CASH_BACK']]);
  return lines;
}

/** Loyalty number and refund lines printed after the payment. */
function afterPaymentLines(rng: Rng, profile: MerchantProfile, money: Money): Segment[][] {
  const lines: Segment[][] = [];
  if (rng.chance(profile.loyaltyShare)) {
    const id = `${rng.int(1000, 9999)}${String(rng.int(0, 99_999_999)).padStart(8, '0')}`;
    lines.push([[profile.loyaltyKeyword], [id, 'LOYALTY_ID']]);
  }
  if (rng.chance(profile.refundShare)) {
    const returned = rng.pick(profile.catalog);
    lines.push([['RETURN'], [returned.name], [money(-returned.priceCents), 'REFUND']]);
  }
  return lines;
}

/** The receipt's printed lines, top to bottom, and when it was bought. */
export function receiptLayout(
  seed: number,
  receiptId: string,
  profile: MerchantProfile,
  opts: LayoutOptions,
): { lines: Segment[][]; purchasedAt: string } {
  const rng = seededFor(seed, 'receipt', receiptId);
  // The extended vocabulary's draws come from their own stream, so older datasets keep their items.
  const extra = seededFor(seed, 'receipt-extras', receiptId);
  const money: Money = (cents) => formatMoney(cents, { dollarSign: profile.dollarSign });
  const date = randomDate(rng);
  const time: ClockTime = { hour: rng.int(OPENING_HOURS.first, OPENING_HOURS.last), minute: rng.int(0, 59) };
  const items = lineItems(rng, profile, opts);
  const subtotal = items.reduce((sum, item) => sum + item.totalCents, 0);
  const { merchant } = profile;

  const dateTime: Segment[] = [
    [formatDate(date, profile.dateFormat), 'DATE'],
    [formatTime(time, profile.timeFormat), 'TIME'],
  ];
  const hours: Segment[][] = profile.hours ? [[[profile.hours, 'STORE_HOURS']]] : [];
  const lines: Segment[][] = [[[merchant.name, 'MERCHANT_NAME']]];
  if (profile.storeNumber) lines.push([[`STORE #${profile.storeNumber}`]]);
  lines.push([[profile.street, 'ADDRESS_LINE']], [[profile.cityLine, 'ADDRESS_LINE']]);
  lines.push([
    ...(profile.phonePrefix ? [[profile.phonePrefix] as const] : []),
    [merchant.phone, 'PHONE_NUMBER'],
  ]);
  if (profile.hoursAtTop) lines.push(...hours);
  if (profile.dateTimeAtTop) lines.push(dateTime);
  if (profile.showCashier) lines.push([['CASHIER'], [rng.pick(CASHIER_NAMES)]]);

  for (const item of items) lines.push(itemLine(item, profile, money));

  if (profile.showItemCount) {
    lines.push([[`ITEMS SOLD ${items.reduce((sum, item) => sum + item.quantity, 0)}`]]);
  }
  const totals = totalsLines(extra, profile, subtotal, money);
  lines.push(...totals.lines);
  lines.push(...paymentLines(rng, extra, profile, totals.total, money));
  lines.push(...afterPaymentLines(extra, profile, money));
  if (!profile.dateTimeAtTop) lines.push(dateTime);
  if (!profile.hoursAtTop) lines.push(...hours);
  if (profile.website) lines.push([[profile.website, 'WEBSITE']]);
  lines.push([[rng.pick(CLOSINGS)]]);
  return { lines, purchasedAt: toIsoDateTime(date, time) };
}
