// Where labels are printed: merchant at the top, address/phone before the items, totals after them.
import { FOOTER_LABELS, HEADER_LABELS, ITEM_LABELS, type Label } from '../labels';
import { parseMoney } from '../money';
import type { Line } from '../receipt';
import type { LabelRule, RuleFinding, RuleOptions } from './options';
import { describe, labelOf } from './shared';

/**
 * An item line has >= 2 labelled words, at least half of them item labels, and a money amount.
 * Reading the amount from the text, not its label, keeps a price mislabelled TAX from moving the
 * item region, and a two-word merchant name with one word mislabelled from joining it.
 */
export function isItemLine(line: Line): boolean {
  const labels = line.words.map(labelOf).filter((l): l is Label => l !== undefined);
  const items = labels.filter((l) => ITEM_LABELS.has(l));
  return (
    labels.length >= 2 &&
    items.length * 2 >= labels.length &&
    line.words.some((w) => parseMoney(w.text) !== undefined)
  );
}

interface ItemRegion {
  first: number | undefined;
  last: number | undefined;
}

/** Why a label is out of place on a line, or undefined when it is where receipts print it. */
function misplacement(
  label: Label,
  at: number,
  relative: number,
  region: ItemRegion,
  opts: RuleOptions,
): string | undefined {
  const { first, last } = region;
  if (label === 'MERCHANT_NAME') {
    return at >= opts.merchantNameTopLines
      ? `but merchant names are printed in the top ${opts.merchantNameTopLines} lines`
      : undefined;
  }
  if (HEADER_LABELS.has(label)) {
    if (first !== undefined) return at >= first ? `at or below the first item line ${first + 1}` : undefined;
    return relative > opts.headerMaxFraction ? 'in the lower part of the receipt' : undefined;
  }
  if (FOOTER_LABELS.has(label)) {
    if (last !== undefined) return at <= last ? `at or above the last item line ${last + 1}` : undefined;
    return relative < opts.footerMinFraction ? 'in the upper part of the receipt' : undefined;
  }
  if (ITEM_LABELS.has(label) && first !== undefined && last !== undefined && (at < first || at > last))
    return `outside the item lines ${first + 1}..${last + 1}`;
  return undefined;
}

/**
 * Labels far from where receipts print them: MERCHANT_NAME below the top lines, address/phone
 * at or below the first item line, totals/payment at or above the last item line, item labels
 * outside the item lines. Without item lines, header and footer fall back to fractions of the receipt.
 */
export const positionSanity: LabelRule = (receipt, opts) => {
  const itemLines = receipt.lines.filter(isItemLine).map((l) => l.lineIndex);
  const region: ItemRegion = {
    first: itemLines.length ? Math.min(...itemLines) : undefined,
    last: itemLines.length ? Math.max(...itemLines) : undefined,
  };
  const lastIndex = Math.max(receipt.lines.length - 1, 1);
  const out: RuleFinding[] = [];
  for (const line of receipt.lines) {
    const at = line.lineIndex;
    for (const w of line.words) {
      const label = labelOf(w);
      if (!label) continue;
      const why = misplacement(label, at, at / lastIndex, region, opts);
      if (why)
        out.push({
          rule: 'POSITION_SANITY',
          wordId: w.wordId,
          message: `${describe(w)} on line ${at + 1}, ${why}`,
        });
    }
  }
  return out;
};
