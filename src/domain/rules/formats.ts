// Format checks: a labelled word must read as what its label says (money, date, time, phone, website, count).
import { isMeridiem, parseDate, parseTime } from '../datetime';
import { MONEY_LABELS } from '../labels';
import { parseMoney } from '../money';
import { parseQuantity } from '../quantity';
import type { Word } from '../receipt';
import type { LabelRule } from './options';
import { describe, findings, labelOf, labelledWords, quoted } from './shared';

/** `(555) 123-4567`, `555-123-4567`, `555.123.4567`, `+1 555 123 4567`, `5551234567`. */
const PHONE_RE = /^(?:\+?1[\s.-]?)?(?:\(\d{3}\)\s?|\d{3}[\s.-]?)\d{3}[\s.-]?\d{4}$/;
/** `sprouts.com`, `www.sprouts.com`, `https://sprouts.com/store`, `help@sprouts.com`. */
export const WEBSITE_RE =
  /^(?:https?:\/\/)?(?:[a-z0-9._%+-]+@)?(?:www\.)?[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}(?:\/\S*)?$/i;

/** Prices and totals must read as money amounts (the currency check). */
export const moneyFormat: LabelRule = (receipt) =>
  findings(
    'MONEY_FORMAT',
    receipt.lines
      .flatMap((l) => l.words)
      .filter((w) => {
        const label = labelOf(w);
        return label !== undefined && MONEY_LABELS.has(label) && parseMoney(w.text) === undefined;
      }),
    (w) => `${describe(w)} is not a money amount (expected like 12.34, $1,234.56, -3.00 or 3.00-)`,
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

/** Runs of consecutive words of a line carrying `label`. */
function runsOf(words: readonly Word[], label: string): Word[][] {
  const groups: Word[][] = [];
  let current: Word[] = [];
  for (const w of words) {
    if (labelOf(w) === label) current.push(w);
    else if (current.length) {
      groups.push(current);
      current = [];
    }
  }
  if (current.length) groups.push(current);
  return groups;
}

/** Consecutive PHONE_NUMBER words of a line must together read as one US phone number. */
export const phoneFormat: LabelRule = (receipt) =>
  receipt.lines.flatMap((line) =>
    runsOf(line.words, 'PHONE_NUMBER').flatMap((group) => {
      const text = group.map((w) => w.text).join(' ');
      if (PHONE_RE.test(text)) return [];
      return findings(
        'PHONE_FORMAT',
        group,
        (w) =>
          `${describe(w)} is not part of a phone number like (555) 123-4567` +
          (group.length > 1 ? ` (PHONE_NUMBER words read ${quoted(text)})` : ''),
      );
    }),
  );

/** WEBSITE words must read as a web or email address (`sprouts.com`, `www.x.com/y`, `help@x.com`). */
export const websiteFormat: LabelRule = (receipt) =>
  findings(
    'WEBSITE_FORMAT',
    labelledWords(receipt, 'WEBSITE').filter((w) => !WEBSITE_RE.test(w.text)),
    (w) => `${describe(w)} is not a web or email address (expected like sprouts.com or www.sprouts.com)`,
  );

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
