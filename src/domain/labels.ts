// The seed project's label vocabulary: its 22 core labels, their one-line definitions (every prompt
// carries them), the aliases accepted on input, and the label families the rules reason about.

/** The amount labels, last in the vocabulary's order; the family MONEY_LABELS below is made of them. */
const AMOUNT_LABELS = [
  'UNIT_PRICE',
  'LINE_TOTAL',
  'SUBTOTAL',
  'TAX',
  'TIP',
  'GRAND_TOTAL',
  'CHANGE',
  'CASH_BACK',
  'REFUND',
] as const;

export const LABELS = [
  'MERCHANT_NAME',
  'STORE_HOURS',
  'PHONE_NUMBER',
  'WEBSITE',
  'LOYALTY_ID',
  'ADDRESS_LINE',
  'DATE',
  'TIME',
  'PAYMENT_METHOD',
  'COUPON',
  'DISCOUNT',
  'PRODUCT_NAME',
  'QUANTITY',
  ...AMOUNT_LABELS,
] as const;
export type Label = (typeof LABELS)[number];

/** One line per label, as the seed project defines them; prompts include these. */
export const LABEL_DEFINITIONS: Readonly<Record<Label, string>> = {
  MERCHANT_NAME: 'Trading name or brand of the store issuing the receipt.',
  STORE_HOURS: 'Printed business hours or opening times for the merchant.',
  PHONE_NUMBER: 'Telephone or fax number of the business.',
  WEBSITE: 'Web or email address printed on the receipt (e.g., sprouts.com).',
  LOYALTY_ID: 'Customer loyalty, rewards or membership identifier.',
  ADDRESS_LINE: 'Full address line (street + city etc.) printed on the receipt.',
  DATE: 'Calendar date of the transaction.',
  TIME: 'Time of the transaction.',
  PAYMENT_METHOD: 'Payment instrument summary (e.g., VISA ••••1234, CASH).',
  COUPON: 'Coupon code or description that reduces price.',
  DISCOUNT: 'Any non-coupon discount line item (e.g., "10% member discount").',
  PRODUCT_NAME: 'Descriptive text of a purchased product (item name).',
  QUANTITY: 'Numeric count or weight of the item (e.g., 2, 1.31 lb).',
  UNIT_PRICE: 'Price per single unit / weight before tax.',
  LINE_TOTAL: 'Extended price for that line (quantity x unit price).',
  SUBTOTAL: 'Sum of all line totals before tax and discounts.',
  TAX: 'Any tax line (sales tax, VAT, bottle deposit).',
  TIP: 'Gratuity amount added by the customer.',
  GRAND_TOTAL: 'Final amount due after all discounts, taxes and fees.',
  CHANGE: 'Change given back to the customer after a cash payment.',
  CASH_BACK: 'Cash withdrawn at the register on a card payment.',
  REFUND: 'Amount returned to the customer for a returned item.',
};

/** Names other labelers (and the seed project's older data) use for a core label. */
export const LABEL_ALIASES: Readonly<Record<string, Label>> = {
  ADDRESS: 'ADDRESS_LINE',
  BUSINESS_NAME: 'MERCHANT_NAME',
  CARD_NUMBER: 'PAYMENT_METHOD',
  PAYMENT_TYPE: 'PAYMENT_METHOD',
};

/**
 * Input label names meaning "no label": a word carrying one is imported unlabelled. `OTHER` was our
 * own catch-all before the seed's vocabulary; `O` is LayoutLM's outside tag.
 */
export const NO_LABEL_NAMES: ReadonlySet<string> = new Set(['O', 'OTHER', 'NONE', '']);

export function isLabel(value: unknown): value is Label {
  return typeof value === 'string' && (LABELS as readonly string[]).includes(value);
}

export type LabelResolution =
  { kind: 'label'; label: Label; alias?: string } | { kind: 'none' } | { kind: 'unknown'; raw: string };

/**
 * A label name from input (import, CLI) as a core label: core names as they are, aliases mapped
 * (`BUSINESS_NAME` -> MERCHANT_NAME), case and surrounding spaces ignored, `-` read as `_`.
 */
export function resolveLabel(raw: string): LabelResolution {
  const name = raw
    .trim()
    .toUpperCase()
    .replace(/[\s-]+/g, '_');
  if (NO_LABEL_NAMES.has(name)) return { kind: 'none' };
  if (isLabel(name)) return { kind: 'label', label: name };
  const aliased = LABEL_ALIASES[name];
  if (aliased) return { kind: 'label', label: aliased, alias: name };
  return { kind: 'unknown', raw };
}

/** The message for a label name that is neither core nor an alias: what it was and what is accepted. */
export function unknownLabelMessage(raw: string): string {
  return (
    `unknown label ${JSON.stringify(raw)}: use one of ${LABELS.join(', ')} ` +
    `or an alias (${Object.entries(LABEL_ALIASES)
      .map(([a, l]) => `${a} -> ${l}`)
      .join(', ')})`
  );
}

/** The vocabulary as prompt text: one `LABEL: definition` line each. */
export function labelDefinitionsText(): string {
  return LABELS.map((l) => `- ${l}: ${LABEL_DEFINITIONS[l]}`).join('\n');
}

/** Amounts: must read as money. DISCOUNT, COUPON and REFUND amounts print negative. */
export const MONEY_LABELS: ReadonlySet<Label> = new Set(AMOUNT_LABELS);
/** Amounts that may also be a description (`10% OFF`, a coupon code) rather than a number. */
export const REDUCTION_LABELS: ReadonlySet<Label> = new Set(['DISCOUNT', 'COUPON']);
/** Printed at the top of a receipt (before the items). Hours and websites go either end. */
export const HEADER_LABELS: ReadonlySet<Label> = new Set(['ADDRESS_LINE', 'PHONE_NUMBER']);
/** Printed after the items. */
export const FOOTER_LABELS: ReadonlySet<Label> = new Set([
  'SUBTOTAL',
  'TAX',
  'TIP',
  'GRAND_TOTAL',
  'PAYMENT_METHOD',
  'CHANGE',
  'CASH_BACK',
]);
/** The labels of an item line. */
export const ITEM_LABELS: ReadonlySet<Label> = new Set([
  'PRODUCT_NAME',
  'QUANTITY',
  'UNIT_PRICE',
  'LINE_TOTAL',
]);
