// Consistency checks in the spirit of the seed's evaluator: a word whose text plainly is something
// its label is not (text-label conflict), and a word missing the label its line neighbours share.
import { parseDate, parseTime } from '../datetime';
import { MONEY_LABELS, REDUCTION_LABELS, type Label } from '../labels';
import { parseMoney } from '../money';
import type { LabelRule, RuleFinding } from './options';
import { WEBSITE_RE } from './formats';
import { describe, labelOf, quoted } from './shared';

interface TextKind {
  name: string;
  matches: (text: string) => boolean;
  /** Labels such a text may carry. */
  labels: ReadonlySet<Label>;
}

const CLOCK_RE = /^\d{1,2}:\d{2}(?::\d{2})?$/;

/** Texts whose kind is unmistakable, with the labels each may carry; the first kind that matches wins. */
const TEXT_KINDS: readonly TextKind[] = [
  {
    name: 'money amount',
    matches: (t) => parseMoney(t) !== undefined,
    labels: new Set<Label>([...MONEY_LABELS, ...REDUCTION_LABELS, 'QUANTITY']),
  },
  { name: 'date', matches: (t) => parseDate(t) !== undefined, labels: new Set<Label>(['DATE']) },
  {
    name: 'clock time',
    matches: (t) => CLOCK_RE.test(t) && parseTime(t) !== undefined,
    labels: new Set<Label>(['TIME', 'STORE_HOURS']),
  },
  {
    name: 'web address',
    matches: (t) => /[a-z]/i.test(t) && WEBSITE_RE.test(t),
    labels: new Set<Label>(['WEBSITE']),
  },
];

/** A labelled word whose text is unmistakably of a kind its label cannot be (a date labelled TIME). */
export const textLabelConflict: LabelRule = (receipt) =>
  receipt.lines.flatMap((line) =>
    line.words.flatMap((w): RuleFinding[] => {
      const label = labelOf(w);
      if (!label) return [];
      const kind = TEXT_KINDS.find((k) => k.matches(w.text));
      if (!kind || kind.labels.has(label)) return [];
      return [
        {
          rule: 'TEXT_LABEL_CONFLICT',
          wordId: w.wordId,
          message: `${describe(w)} reads as a ${kind.name}, which is labelled ${[...kind.labels].join(' or ')}`,
        },
      ];
    }),
  );

/**
 * An unlabelled word between two words of its line that share a label (`GREEN <LEAF> MARKET` with
 * both sides MERCHANT_NAME): it probably belongs to the same field. The finding proposes that label.
 */
export const missingLineLabel: LabelRule = (receipt) =>
  receipt.lines.flatMap((line) =>
    line.words.flatMap((w, i): RuleFinding[] => {
      if (w.label) return [];
      const left = line.words[i - 1];
      const right = line.words[i + 1];
      const shared = left && right ? labelOf(left) : undefined;
      if (!shared || labelOf(right!) !== shared) return [];
      return [
        {
          rule: 'MISSING_LINE_LABEL',
          wordId: w.wordId,
          proposedLabel: shared,
          message: `unlabelled ${quoted(w.text)} sits between two ${shared} words of its line (${quoted(left!.text)}, ${quoted(right!.text)}); it may be ${shared} too`,
        },
      ];
    }),
  );
