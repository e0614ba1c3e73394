// Problems that make a receipt unfit for evaluation at all (as opposed to label issues for review).
import { LABELS } from '../labels';
import type { Line, Receipt } from '../receipt';
import { resolveRuleOptions, type RuleOptions } from './options';
import { labelOf, quoted } from './shared';

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
