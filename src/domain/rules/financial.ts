// The financial checks (the seed's evaluator): the grand total adds up, and each item line adds up.
import type { Label } from '../labels';
import { parseMoney } from '../money';
import { parseQuantity } from '../quantity';
import type { Line, Word } from '../receipt';
import type { LabelRule, RuleFinding, RuleOptions } from './options';
import { amountOf, describe, findings, labelOf, labelledWords, money, quoted, sumMoney } from './shared';

const ITEM_PRICE_LABELS: ReadonlySet<Label> = new Set(['UNIT_PRICE', 'LINE_TOTAL']);

/** Money amounts among the words, as positive reductions (`-1.00`, `1.00-` and `1.00` all take 1.00 off). */
function reductionCents(words: readonly Word[]): number {
  return words.reduce((sum, w) => sum + Math.abs(parseMoney(w.text) ?? 0), 0);
}

/**
 * GRAND_TOTAL = SUBTOTAL + TAX + TIP - DISCOUNT - COUPON (several words of one label are summed;
 * DISCOUNT and COUPON words that are descriptions, not amounts, are ignored).
 */
export const grandTotalArithmetic: LabelRule = (receipt, opts) => {
  const rule = 'GRAND_TOTAL_ARITHMETIC';
  const of = (label: Label) => labelledWords(receipt, label);
  const required = { SUBTOTAL: of('SUBTOTAL'), TAX: of('TAX'), GRAND_TOTAL: of('GRAND_TOTAL') };
  const tip = of('TIP');
  const reductions = [...of('DISCOUNT'), ...of('COUPON')].filter((w) => parseMoney(w.text) !== undefined);
  const present = [...required.SUBTOTAL, ...required.TAX, ...tip, ...reductions, ...required.GRAND_TOTAL];
  if (required.SUBTOTAL.length + required.TAX.length + required.GRAND_TOTAL.length === 0) return [];
  const missing = (Object.keys(required) as Array<keyof typeof required>).filter(
    (k) => required[k].length === 0,
  );
  if (missing.length > 0) {
    return findings(
      rule,
      present,
      (w) =>
        `${describe(w)} cannot be checked against the totals: no word is labelled ${missing.join(' or ')}`,
    );
  }
  const subtotal = sumMoney(required.SUBTOTAL);
  const tax = sumMoney(required.TAX);
  const tipCents = sumMoney(tip);
  const totals = required.GRAND_TOTAL.map((w) => parseMoney(w.text));
  if (subtotal === undefined || tax === undefined || tipCents === undefined) return [];
  if (totals.some((t) => t === undefined)) return [];
  const off = reductionCents(reductions);
  const expected = subtotal + tax + tipCents - off;
  const wrong = (totals as number[]).find((t) => Math.abs(t - expected) > opts.totalToleranceCents);
  if (wrong === undefined) return [];
  const terms = [
    amountOf('SUBTOTAL', required.SUBTOTAL, subtotal),
    `+ ${amountOf('TAX', required.TAX, tax)}`,
    ...(tip.length ? [`+ ${amountOf('TIP', tip, tipCents)}`] : []),
    ...(reductions.length ? [`- DISCOUNT/COUPON ${money(off)}`] : []),
  ];
  return findings(
    rule,
    present,
    `GRAND_TOTAL ${money(wrong)} != ${terms.join(' ')} (diff ${money(wrong - expected)})`,
  );
};

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

/** The words of an item line with a LINE_TOTAL and a UNIT_PRICE, checked against QUANTITY. */
function checkItemArithmetic(line: Line, q: Word | undefined, u: Word, t: Word, opts: RuleOptions) {
  const rule = 'LINE_ITEM_ARITHMETIC';
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
}

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
    return checkItemArithmetic(line, q, u, t, opts);
  });
