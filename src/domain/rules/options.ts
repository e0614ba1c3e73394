// The label rules' names, options (with defaults and validation) and the shape of a finding.
import type { Label } from '../labels';
import type { Receipt } from '../receipt';

export const RULE_NAMES = [
  'GRAND_TOTAL_ARITHMETIC',
  'MONEY_FORMAT',
  'DATE_FORMAT',
  'TIME_FORMAT',
  'PHONE_FORMAT',
  'WEBSITE_FORMAT',
  'SINGLE_GRAND_TOTAL',
  'LINE_ITEM_ARITHMETIC',
  'POSITION_SANITY',
  'QUANTITY_FORMAT',
  'TEXT_LABEL_CONFLICT',
  'MISSING_LINE_LABEL',
] as const;
export type RuleName = (typeof RULE_NAMES)[number];

/** Rule name of an issue raised only because its label is PENDING (not yet verified). */
export const UNVERIFIED_LABEL = 'UNVERIFIED_LABEL';

export interface RuleOptions {
  /**
   * Largest |GRAND_TOTAL - (SUBTOTAL + TAX + TIP - DISCOUNT - COUPON)| accepted, in cents (the
   * seed's $0.05: rounding on tax and tips). @default 5
   */
  totalToleranceCents: number;
  /** Largest |LINE_TOTAL - QUANTITY x UNIT_PRICE| accepted, in cents (the seed's $0.02). @default 2 */
  lineItemToleranceCents: number;
  /** Receipts with more words are rejected by `validateReceiptShape`. @default 1000 */
  maxWordsPerReceipt: number;
  /** MERCHANT_NAME is expected within this many lines from the top. @default 3 */
  merchantNameTopLines: number;
  /** Without item lines, ADDRESS_LINE/PHONE_NUMBER must lie in this top fraction of lines. @default 0.5 */
  headerMaxFraction: number;
  /** Without item lines, totals/payment must lie at or below this fraction of lines. @default 0.5 */
  footerMinFraction: number;
  /** Largest plausible QUANTITY. @default 999 */
  maxQuantity: number;
  /** Earliest plausible purchase year of a DATE. @default 2000 */
  minYear: number;
  /** Latest plausible purchase year of a DATE. @default 2099 */
  maxYear: number;
  /** Rules to run. @default all of RULE_NAMES */
  rules: readonly RuleName[];
}

export const DEFAULT_RULE_OPTIONS: Readonly<RuleOptions> = Object.freeze({
  totalToleranceCents: 5,
  lineItemToleranceCents: 2,
  maxWordsPerReceipt: 1000,
  merchantNameTopLines: 3,
  headerMaxFraction: 0.5,
  footerMinFraction: 0.5,
  maxQuantity: 999,
  minYear: 2000,
  maxYear: 2099,
  rules: RULE_NAMES,
});

/** Applies defaults and validates; throws RangeError naming the bad option. */
export function resolveRuleOptions(options: Partial<RuleOptions> = {}): RuleOptions {
  const opts: RuleOptions = { ...DEFAULT_RULE_OPTIONS, ...options };
  const nonNegative = [
    'totalToleranceCents',
    'lineItemToleranceCents',
    'maxWordsPerReceipt',
    'merchantNameTopLines',
    'maxQuantity',
  ] as const;
  for (const key of nonNegative) {
    if (!(opts[key] >= 0)) throw new RangeError(`rule option ${key} must be >= 0, got ${opts[key]}`);
  }
  for (const key of ['headerMaxFraction', 'footerMinFraction'] as const) {
    if (!(opts[key] >= 0 && opts[key] <= 1)) {
      throw new RangeError(`rule option ${key} must be within [0, 1], got ${opts[key]}`);
    }
  }
  if (!(opts.minYear <= opts.maxYear)) {
    throw new RangeError(`rule option minYear ${opts.minYear} exceeds maxYear ${opts.maxYear}`);
  }
  const unknown = opts.rules.filter((r) => !(RULE_NAMES as readonly string[]).includes(r));
  if (unknown.length) {
    throw new RangeError(`unknown rule(s) ${unknown.join(', ')}; known rules: ${RULE_NAMES.join(', ')}`);
  }
  return opts;
}

export interface RuleFinding {
  rule: RuleName;
  wordId: string;
  message: string;
  /** On an unlabelled word: the label the rule proposes for it (MISSING_LINE_LABEL). */
  proposedLabel?: Label;
}

export type LabelRule = (receipt: Receipt, opts: RuleOptions) => RuleFinding[];
