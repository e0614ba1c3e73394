// Deterministic label checks over one receipt: which labelled words look wrong, and why.
import { isMeridiem, parseDate, parseTime } from './datetime';
import { LABELS, type Label } from './llm-tasks';
import { formatMoney, parseMoney } from './money';
import { parseQuantity } from './quantity';
import type { LabelIssue, Line, Receipt, Word } from './receipt';

export const RULE_NAMES = [
  'SUBTOTAL_PLUS_TAX_EQUALS_TOTAL',
  'MONEY_FORMAT',
  'DATE_FORMAT',
  'TIME_FORMAT',
  'PHONE_FORMAT',
  'SINGLE_GRAND_TOTAL',
  'LINE_ITEM_ARITHMETIC',
  'POSITION_SANITY',
  'QUANTITY_FORMAT',
] as const;
export type RuleName = (typeof RULE_NAMES)[number];

/** Rule name of an issue raised only because its label is PENDING (not yet verified). */
export const UNVERIFIED_LABEL = 'UNVERIFIED_LABEL';

export interface RuleOptions {
  /** Largest |GRAND_TOTAL - (SUBTOTAL + TAX)| accepted, in cents (rounding on tax). @default 2 */
  totalToleranceCents: number;
  /** Largest |LINE_TOTAL - QUANTITY x UNIT_PRICE| accepted, in cents. @default 1 */
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
  totalToleranceCents: 2,
  lineItemToleranceCents: 1,
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
}

export type LabelRule = (receipt: Receipt, opts: RuleOptions) => RuleFinding[];

const MONEY_LABELS: ReadonlySet<Label> = new Set([
  'UNIT_PRICE',
  'LINE_TOTAL',
  'SUBTOTAL',
  'TAX',
  'GRAND_TOTAL',
]);
const HEADER_LABELS: ReadonlySet<Label> = new Set(['ADDRESS_LINE', 'PHONE_NUMBER']);
const FOOTER_LABELS: ReadonlySet<Label> = new Set(['SUBTOTAL', 'TAX', 'GRAND_TOTAL', 'PAYMENT_METHOD']);
const ITEM_LABELS: ReadonlySet<Label> = new Set(['PRODUCT_NAME', 'QUANTITY', 'UNIT_PRICE', 'LINE_TOTAL']);
const ITEM_PRICE_LABELS: ReadonlySet<Label> = new Set(['UNIT_PRICE', 'LINE_TOTAL']);

/** `(555) 123-4567`, `555-123-4567`, `555.123.4567`, `+1 555 123 4567`, `5551234567`. */
const PHONE_RE = /^(?:\+?1[\s.-]?)?(?:\(\d{3}\)\s?|\d{3}[\s.-]?)\d{3}[\s.-]?\d{4}$/;

const labelOf = (word: Word): Label | undefined => word.label?.label;
const quoted = (text: string): string => JSON.stringify(text);
const money = (cents: number): string => formatMoney(cents);
const describe = (word: Word): string => `${labelOf(word) ?? 'unlabelled'} ${quoted(word.text)}`;

function labelledWords(receipt: Receipt, label: Label): Word[] {
  return receipt.lines.flatMap((line) => line.words.filter((w) => labelOf(w) === label));
}

function findings(
  rule: RuleName,
  words: readonly Word[],
  message: string | ((w: Word) => string),
): RuleFinding[] {
  return words.map((w) => ({
    rule,
    wordId: w.wordId,
    message: typeof message === 'string' ? message : message(w),
  }));
}

/** Sum of the amounts; undefined when any word is not money (MONEY_FORMAT reports those). */
function sumMoney(words: readonly Word[]): number | undefined {
  let sum = 0;
  for (const w of words) {
    const cents = parseMoney(w.text);
    if (cents === undefined) return undefined;
    sum += cents;
  }
  return sum;
}

const amountOf = (label: Label, words: readonly Word[], cents: number): string =>
  `${label} ${money(cents)}${words.length > 1 ? ` (sum of ${words.length} words)` : ''}`;

/** GRAND_TOTAL must equal SUBTOTAL + TAX (several TAX or SUBTOTAL words are summed). */
export const subtotalPlusTaxEqualsTotal: LabelRule = (receipt, opts) => {
  const rule = 'SUBTOTAL_PLUS_TAX_EQUALS_TOTAL';
  const groups = {
    SUBTOTAL: labelledWords(receipt, 'SUBTOTAL'),
    TAX: labelledWords(receipt, 'TAX'),
    GRAND_TOTAL: labelledWords(receipt, 'GRAND_TOTAL'),
  };
  const present = [...groups.SUBTOTAL, ...groups.TAX, ...groups.GRAND_TOTAL];
  if (present.length === 0) return [];
  const missing = (Object.keys(groups) as Array<keyof typeof groups>).filter((k) => groups[k].length === 0);
  if (missing.length > 0) {
    return findings(
      rule,
      present,
      (w) =>
        `${describe(w)} cannot be checked against the totals: no word is labelled ${missing.join(' or ')}`,
    );
  }
  const subtotal = sumMoney(groups.SUBTOTAL);
  const tax = sumMoney(groups.TAX);
  const totals = groups.GRAND_TOTAL.map((w) => parseMoney(w.text));
  if (subtotal === undefined || tax === undefined || totals.some((t) => t === undefined)) return [];
  const expected = subtotal + tax;
  const wrong = (totals as number[]).find((t) => Math.abs(t - expected) > opts.totalToleranceCents);
  if (wrong === undefined) return [];
  return findings(
    rule,
    present,
    `GRAND_TOTAL ${money(wrong)} != ${amountOf('SUBTOTAL', groups.SUBTOTAL, subtotal)} + ` +
      `${amountOf('TAX', groups.TAX, tax)} (diff ${money(wrong - expected)})`,
  );
};

/** Prices and totals must read as money amounts. */
export const moneyFormat: LabelRule = (receipt) =>
  findings(
    'MONEY_FORMAT',
    receipt.lines
      .flatMap((l) => l.words)
      .filter((w) => {
        const label = labelOf(w);
        return label !== undefined && MONEY_LABELS.has(label) && parseMoney(w.text) === undefined;
      }),
    (w) => `${describe(w)} is not a money amount (expected like 12.34, $1,234.56 or -3.00)`,
  );

/** DATE words must be real dates (MM/DD/YYYY or YYYY-MM-DD) in a plausible year. */
export const dateFormat: LabelRule = (receipt, opts) =>
  labelledWords(receipt, 'DATE').flatMap((w) => {
    const date = parseDate(w.text);
    if (!date) {
      return findings(
        'DATE_FORMAT',
        [w],
        `${describe(w)} is not a valid date (expected MM/DD/YYYY or YYYY-MM-DD)`,
      );
    }
    if (date.year < opts.minYear || date.year > opts.maxYear) {
      return findings(
        'DATE_FORMAT',
        [w],
        `${describe(w)} has year ${date.year}, outside the plausible ${opts.minYear}..${opts.maxYear}`,
      );
    }
    return [];
  });

/** TIME words must be clock times; an AM/PM word must follow a TIME word it completes. */
export const timeFormat: LabelRule = (receipt) =>
  receipt.lines.flatMap((line) =>
    line.words.flatMap((w, i) => {
      if (labelOf(w) !== 'TIME' || parseTime(w.text)) return [];
      if (isMeridiem(w.text)) {
        const previous = line.words[i - 1];
        if (previous && labelOf(previous) === 'TIME' && parseTime(`${previous.text} ${w.text}`)) return [];
        return findings(
          'TIME_FORMAT',
          [w],
          `${describe(w)} is an AM/PM marker without a 12-hour TIME word before it`,
        );
      }
      return findings('TIME_FORMAT', [w], `${describe(w)} is not a valid time (expected HH:MM or HH:MM AM)`);
    }),
  );

/** Consecutive PHONE_NUMBER words of a line must together read as one US phone number. */
export const phoneFormat: LabelRule = (receipt) =>
  receipt.lines.flatMap((line) => {
    const groups: Word[][] = [];
    let current: Word[] = [];
    for (const w of line.words) {
      if (labelOf(w) === 'PHONE_NUMBER') current.push(w);
      else if (current.length) {
        groups.push(current);
        current = [];
      }
    }
    if (current.length) groups.push(current);
    return groups.flatMap((group) => {
      const text = group.map((w) => w.text).join(' ');
      if (PHONE_RE.test(text)) return [];
      return findings(
        'PHONE_FORMAT',
        group,
        (w) =>
          `${describe(w)} is not part of a phone number like (555) 123-4567` +
          (group.length > 1 ? ` (PHONE_NUMBER words read ${quoted(text)})` : ''),
      );
    });
  });

/** A receipt has one grand total; several GRAND_TOTAL words are all suspects. */
export const singleGrandTotal: LabelRule = (receipt) => {
  const words = labelledWords(receipt, 'GRAND_TOTAL');
  if (words.length <= 1) return [];
  return findings(
    'SINGLE_GRAND_TOTAL',
    words,
    `${words.length} words are labelled GRAND_TOTAL (${words.map((w) => quoted(w.text)).join(', ')}); a receipt has one`,
  );
};

/** On an item line: at most one QUANTITY, UNIT_PRICE, LINE_TOTAL each, and QUANTITY x UNIT_PRICE = LINE_TOTAL. */
export const lineItemArithmetic: LabelRule = (receipt, opts) =>
  receipt.lines.flatMap((line) => {
    const rule = 'LINE_ITEM_ARITHMETIC';
    const of = (label: Label): Word[] => line.words.filter((w) => labelOf(w) === label);
    const quantity = of('QUANTITY');
    const unit = of('UNIT_PRICE');
    const total = of('LINE_TOTAL');
    const duplicated = (
      [
        ['QUANTITY', quantity],
        ['UNIT_PRICE', unit],
        ['LINE_TOTAL', total],
      ] as const
    ).filter(([, words]) => words.length > 1);
    if (duplicated.length) {
      return duplicated.flatMap(([label, words]) =>
        findings(
          rule,
          words,
          `${words.length} words labelled ${label} on one item line (${words.map((w) => quoted(w.text)).join(', ')})`,
        ),
      );
    }
    const [q, u, t] = [quantity[0], unit[0], total[0]];
    if (!t) {
      const orphans = [...quantity, ...unit];
      return findings(rule, orphans, (w) => `${describe(w)} is on a line without a LINE_TOTAL`);
    }
    // QUANTITY and LINE_TOTAL without a unit price cannot be checked; a lone LINE_TOTAL is fine.
    if (!u) return [];
    const unitCents = parseMoney(u.text);
    const totalCents = parseMoney(t.text);
    if (unitCents === undefined || totalCents === undefined) return [];
    const explains = (qty: number): boolean =>
      Math.abs(totalCents - qty * unitCents) <= opts.lineItemToleranceCents;
    // An unreadable QUANTITY is QUANTITY_FORMAT's finding; only look for a better quantity then.
    const qty = q ? parseQuantity(q.text) : 1;
    if (qty !== undefined && explains(qty)) return [];
    const out: RuleFinding[] = [];
    if (qty !== undefined) {
      const expected = qty * unitCents;
      const factors = q
        ? `QUANTITY ${qty} x UNIT_PRICE ${money(unitCents)}`
        : `UNIT_PRICE ${money(unitCents)} (no QUANTITY)`;
      out.push(
        ...findings(
          rule,
          [q, u, t].filter((w): w is Word => w !== undefined),
          `LINE_TOTAL ${money(totalCents)} != ${factors} = ${money(expected)} (diff ${money(totalCents - expected)})`,
        ),
      );
    }
    // A count under another label that makes the line add up is probably the real QUANTITY.
    const lookalikes = line.words.filter((w) => {
      const label = labelOf(w);
      if (!label || label === 'QUANTITY' || ITEM_PRICE_LABELS.has(label)) return false;
      const n = parseQuantity(w.text);
      return n !== undefined && n >= 1 && explains(n);
    });
    out.push(
      ...findings(
        rule,
        lookalikes,
        (w) =>
          `${describe(w)} looks like the QUANTITY: ${w.text} x UNIT_PRICE ${money(unitCents)} = LINE_TOTAL ${money(totalCents)}`,
      ),
    );
    return out;
  });

/**
 * An item line has >= 2 labelled words, at least half of them item labels, and a money amount.
 * Reading the amount from the text, not its label, keeps a price mislabelled TAX from moving the
 * item region, and a two-word merchant name with one word mislabelled from joining it.
 */
function isItemLine(line: Line): boolean {
  const labels = line.words.map(labelOf).filter((l): l is Label => l !== undefined);
  const items = labels.filter((l) => ITEM_LABELS.has(l));
  return (
    labels.length >= 2 &&
    items.length * 2 >= labels.length &&
    line.words.some((w) => parseMoney(w.text) !== undefined)
  );
}

/**
 * Labels far from where receipts print them: MERCHANT_NAME below the top lines, address/phone
 * at or below the first item line, totals/payment at or above the last item line, item labels
 * outside the item lines. Without item lines, header and footer fall back to fractions of the receipt.
 */
export const positionSanity: LabelRule = (receipt, opts) => {
  const rule = 'POSITION_SANITY';
  const itemLines = receipt.lines.filter(isItemLine).map((l) => l.lineIndex);
  const first = itemLines.length ? Math.min(...itemLines) : undefined;
  const last = itemLines.length ? Math.max(...itemLines) : undefined;
  const lastIndex = Math.max(receipt.lines.length - 1, 1);
  const out: RuleFinding[] = [];
  for (const line of receipt.lines) {
    const at = line.lineIndex;
    const where = `on line ${at + 1}`;
    const relative = at / lastIndex;
    for (const w of line.words) {
      const label = labelOf(w);
      if (!label) continue;
      const flag = (why: string): void => {
        out.push({ rule, wordId: w.wordId, message: `${describe(w)} ${where}, ${why}` });
      };
      if (label === 'MERCHANT_NAME' && at >= opts.merchantNameTopLines) {
        flag(`but merchant names are printed in the top ${opts.merchantNameTopLines} lines`);
      } else if (HEADER_LABELS.has(label)) {
        if (first !== undefined ? at >= first : relative > opts.headerMaxFraction) {
          flag(
            first !== undefined
              ? `at or below the first item line ${first + 1}`
              : 'in the lower part of the receipt',
          );
        }
      } else if (FOOTER_LABELS.has(label)) {
        if (last !== undefined ? at <= last : relative < opts.footerMinFraction) {
          flag(
            last !== undefined
              ? `at or above the last item line ${last + 1}`
              : 'in the upper part of the receipt',
          );
        }
      } else if (
        ITEM_LABELS.has(label) &&
        first !== undefined &&
        last !== undefined &&
        (at < first || at > last)
      ) {
        flag(`outside the item lines ${first + 1}..${last + 1}`);
      }
    }
  }
  return out;
};

/** QUANTITY words must be counts like `2` or `2x` within 1..maxQuantity. */
export const quantityFormat: LabelRule = (receipt, opts) =>
  labelledWords(receipt, 'QUANTITY').flatMap((w) => {
    const qty = parseQuantity(w.text);
    if (qty === undefined)
      return findings('QUANTITY_FORMAT', [w], `${describe(w)} is not a count like 2 or 2x`);
    if (qty < 1 || qty > opts.maxQuantity) {
      return findings(
        'QUANTITY_FORMAT',
        [w],
        `${describe(w)} is outside the plausible 1..${opts.maxQuantity}`,
      );
    }
    return [];
  });

export const RULES: Readonly<Record<RuleName, LabelRule>> = {
  SUBTOTAL_PLUS_TAX_EQUALS_TOTAL: subtotalPlusTaxEqualsTotal,
  MONEY_FORMAT: moneyFormat,
  DATE_FORMAT: dateFormat,
  TIME_FORMAT: timeFormat,
  PHONE_FORMAT: phoneFormat,
  SINGLE_GRAND_TOTAL: singleGrandTotal,
  LINE_ITEM_ARITHMETIC: lineItemArithmetic,
  POSITION_SANITY: positionSanity,
  QUANTITY_FORMAT: quantityFormat,
};

/** Findings of the enabled rules, in rule order. */
export function runRules(receipt: Receipt, options: Partial<RuleOptions> = {}): RuleFinding[] {
  const opts = resolveRuleOptions(options);
  return opts.rules.flatMap((name) => RULES[name](receipt, opts));
}

/**
 * One issue per labelled word that a rule flagged (its rules merged), plus every PENDING label
 * no rule flagged (rule `UNVERIFIED_LABEL`): together, what the LLM reviews. Unlabelled words
 * are never issues. Issues come in line and word order.
 */
export function findLabelIssues(receipt: Receipt, options: Partial<RuleOptions> = {}): LabelIssue[] {
  const byWord = new Map<string, RuleFinding[]>();
  for (const f of runRules(receipt, options)) {
    const list = byWord.get(f.wordId);
    if (list) list.push(f);
    else byWord.set(f.wordId, [f]);
  }
  const issues: LabelIssue[] = [];
  for (const line of receipt.lines) {
    for (const word of line.words) {
      const label = word.label;
      if (!label) continue;
      const found = byWord.get(word.wordId);
      const base = { wordId: word.wordId, text: word.text, label: label.label, lineText: line.text };
      if (found) {
        const rules = [...new Set(found.map((f) => f.rule))];
        const message = [...new Set(found.map((f) => f.message))].join('; ');
        issues.push({ ...base, rules, message });
      } else if (label.validationStatus === 'PENDING') {
        issues.push({
          ...base,
          rules: [UNVERIFIED_LABEL],
          message: `${describe(word)} is unverified (PENDING, labelled by ${label.source})`,
        });
      }
    }
  }
  return issues;
}

/** How many shape problems of one kind are spelled out before the rest are counted. */
const MAX_EXAMPLES = 5;

function listed(items: readonly string[]): string {
  const shown = items.slice(0, MAX_EXAMPLES).join(', ');
  return items.length > MAX_EXAMPLES ? `${shown} and ${items.length - MAX_EXAMPLES} more` : shown;
}

/**
 * Problems that make a receipt unfit for evaluation (as opposed to label issues for review):
 * no lines or words, duplicated word ids, labels outside LABELS, a GRAND_TOTAL without digits,
 * too many words. Empty when the receipt is fine. Tolerates input missing fields (it may come
 * from a store as untyped JSON).
 */
export function validateReceiptShape(receipt: Receipt, options: Partial<RuleOptions> = {}): string[] {
  const opts = resolveRuleOptions(options);
  const id = receipt.receiptId || '(no receiptId)';
  const lines: Line[] = Array.isArray(receipt.lines) ? receipt.lines : [];
  if (lines.length === 0)
    return [`receipt ${id} has no lines; it needs at least one line of words to evaluate`];
  const words = lines.flatMap((l) => (Array.isArray(l.words) ? l.words : []));
  if (words.length === 0)
    return [`receipt ${id} has ${lines.length} line(s) but no words; re-import its OCR`];

  const problems: string[] = [];
  if (words.length > opts.maxWordsPerReceipt) {
    problems.push(
      `receipt ${id} has ${words.length} words, more than maxWordsPerReceipt ${opts.maxWordsPerReceipt}; split it or raise the limit`,
    );
  }
  const seen = new Map<string, number>();
  for (const w of words) seen.set(w.wordId, (seen.get(w.wordId) ?? 0) + 1);
  const duplicated = [...seen].filter(([, n]) => n > 1).map(([wordId, n]) => `${quoted(wordId)} x${n}`);
  if (duplicated.length) problems.push(`duplicated word ids: ${listed(duplicated)}; word ids must be unique`);

  const unknown = new Map<string, string[]>();
  for (const w of words) {
    const label = w.label?.label as string | undefined;
    if (label === undefined || (LABELS as readonly string[]).includes(label)) continue;
    unknown.set(label, [...(unknown.get(label) ?? []), w.wordId]);
  }
  for (const [label, ids] of unknown) {
    problems.push(
      `unknown label ${quoted(label)} on word(s) ${listed(ids)}; labels must be one of ${LABELS.join(', ')}`,
    );
  }

  const nonNumeric = words.filter((w) => labelOf(w) === 'GRAND_TOTAL' && !/\d/.test(w.text ?? ''));
  if (nonNumeric.length) {
    problems.push(
      `GRAND_TOTAL on non-numeric word(s) ${listed(nonNumeric.map((w) => `${w.wordId} ${quoted(w.text)}`))}`,
    );
  }
  return problems;
}
