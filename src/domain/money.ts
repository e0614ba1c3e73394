// Money amounts as receipts print them, converted to and from integer cents.

/**
 * `-`, optional `$` (the minus may also follow it), digits with optional thousands commas, 2 decimals,
 * and a trailing minus as many registers print discounts (`1.00-`).
 */
const MONEY_RE = /^(-?)(\$?)(-?)(\d{1,3}(?:,\d{3})+|\d+)\.(\d{2})(-?)$/;

/** Integer parts longer than this would lose precision as cents in a double. */
const MAX_INTEGER_DIGITS = 13;

/**
 * Parses `$12.34`, `12.34`, `1,234.56`, `-3.00`, `-$3.00`, `3.00-` into integer cents.
 * Returns undefined for anything else, including amounts without exactly two decimals
 * (`12`, `12.3`): receipts print cents, and a bare integer is more likely a quantity.
 */
export function parseMoney(text: string): number | undefined {
  const m = MONEY_RE.exec(text.trim());
  if (!m) return undefined;
  const [, minusBefore, , minusAfter, whole = '', decimals = '', minusTrailing] = m;
  if ([minusBefore, minusAfter, minusTrailing].filter(Boolean).length > 1) return undefined;
  const digits = whole.replace(/,/g, '');
  if (digits.length > MAX_INTEGER_DIGITS) return undefined;
  const cents = Number(digits) * 100 + Number(decimals);
  const negative = Boolean(minusBefore || minusAfter || minusTrailing) && cents !== 0;
  return negative ? -cents : cents;
}

export interface FormatMoneyOptions {
  /** Prefix a `$`. @default false */
  dollarSign?: boolean;
}

/** Formats integer cents as a receipt prints them: `1,234.56`, `-3.00`, `$12.34`. */
export function formatMoney(cents: number, opts: FormatMoneyOptions = {}): string {
  if (!Number.isInteger(cents)) throw new RangeError(`formatMoney expects integer cents, got ${cents}`);
  const abs = Math.abs(cents);
  const whole = String(Math.floor(abs / 100)).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  const frac = String(abs % 100).padStart(2, '0');
  return `${cents < 0 ? '-' : ''}${opts.dollarSign ? '$' : ''}${whole}.${frac}`;
}
