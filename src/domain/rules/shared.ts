// Helpers the label rules share: reading labels, describing words, building findings, summing money.
import type { Label } from '../labels';
import { formatMoney, parseMoney } from '../money';
import type { Receipt, Word } from '../receipt';
import type { RuleFinding, RuleName } from './options';

export const labelOf = (word: Word): Label | undefined => word.label?.label;
export const quoted = (text: string): string => JSON.stringify(text);
export const money = (cents: number): string => formatMoney(cents);
export const describe = (word: Word): string => `${labelOf(word) ?? 'unlabelled'} ${quoted(word.text)}`;

export function labelledWords(receipt: Receipt, label: Label): Word[] {
  return receipt.lines.flatMap((line) => line.words.filter((w) => labelOf(w) === label));
}

export function findings(
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
export function sumMoney(words: readonly Word[]): number | undefined {
  let sum = 0;
  for (const w of words) {
    const cents = parseMoney(w.text);
    if (cents === undefined) return undefined;
    sum += cents;
  }
  return sum;
}

export const amountOf = (label: Label, words: readonly Word[], cents: number): string =>
  `${label} ${money(cents)}${words.length > 1 ? ` (sum of ${words.length} words)` : ''}`;
