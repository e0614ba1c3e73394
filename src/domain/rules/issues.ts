// The rule table and what the LLM reviews: one issue per flagged word, plus unverified labels.
import type { LabelIssue, Receipt, Word } from '../receipt';
import { missingLineLabel, textLabelConflict } from './consistency';
import { grandTotalArithmetic, lineItemArithmetic, singleGrandTotal } from './financial';
import { dateFormat, moneyFormat, phoneFormat, quantityFormat, timeFormat, websiteFormat } from './formats';
import {
  UNVERIFIED_LABEL,
  resolveRuleOptions,
  type LabelRule,
  type RuleFinding,
  type RuleName,
  type RuleOptions,
} from './options';
import { positionSanity } from './position';
import { describe } from './shared';

export const RULES: Readonly<Record<RuleName, LabelRule>> = {
  GRAND_TOTAL_ARITHMETIC: grandTotalArithmetic,
  MONEY_FORMAT: moneyFormat,
  DATE_FORMAT: dateFormat,
  TIME_FORMAT: timeFormat,
  PHONE_FORMAT: phoneFormat,
  WEBSITE_FORMAT: websiteFormat,
  SINGLE_GRAND_TOTAL: singleGrandTotal,
  LINE_ITEM_ARITHMETIC: lineItemArithmetic,
  POSITION_SANITY: positionSanity,
  QUANTITY_FORMAT: quantityFormat,
  TEXT_LABEL_CONFLICT: textLabelConflict,
  MISSING_LINE_LABEL: missingLineLabel,
};

/** Findings of the enabled rules, in rule order. */
export function runRules(receipt: Receipt, options: Partial<RuleOptions> = {}): RuleFinding[] {
  const opts = resolveRuleOptions(options);
  return opts.rules.flatMap((name) => RULES[name](receipt, opts));
}

function merged(found: readonly RuleFinding[]): Pick<LabelIssue, 'rules' | 'message'> {
  return {
    rules: [...new Set(found.map((f) => f.rule))],
    message: [...new Set(found.map((f) => f.message))].join('; '),
  };
}

/** The issue of one word, or undefined when nothing puts it up for review. */
function issueOf(
  word: Word,
  lineText: string,
  found: readonly RuleFinding[] | undefined,
): LabelIssue | undefined {
  const label = word.label;
  const base = { wordId: word.wordId, text: word.text, lineText };
  if (!label) {
    // An unlabelled word is reviewed only when a rule proposes a label for it.
    const proposed = found?.find((f) => f.proposedLabel)?.proposedLabel;
    return proposed ? { ...base, label: proposed, unlabelled: true, ...merged(found!) } : undefined;
  }
  if (found) return { ...base, label: label.label, ...merged(found) };
  if (label.validationStatus !== 'PENDING') return undefined;
  return {
    ...base,
    label: label.label,
    rules: [UNVERIFIED_LABEL],
    message: `${describe(word)} is unverified (PENDING, labelled by ${label.source})`,
  };
}

/**
 * One issue per labelled word that a rule flagged (its rules merged), plus every PENDING label
 * no rule flagged (rule `UNVERIFIED_LABEL`), plus unlabelled words a rule proposes a label for
 * (`unlabelled: true`): together, what the LLM reviews. Issues come in line and word order.
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
      const issue = issueOf(word, line.text, byWord.get(word.wordId));
      if (issue) issues.push(issue);
    }
  }
  return issues;
}
