// The rules that came with the seed project's vocabulary: the full grand-total equation, website
// format, text-label conflicts and a word missing its line neighbours' label.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { RULES, findLabelIssues, resolveRuleOptions, type RuleName } from '../../src/domain/rules';
import { cleanWith, cleanWithLines, receiptFrom } from './receipt-builder';

function flagged(rule: RuleName, lines: readonly string[]) {
  const receipt = receiptFrom(lines);
  const text = new Map(receipt.lines.flatMap((l) => l.words).map((w) => [w.wordId, w.text]));
  const findings = RULES[rule](receipt, resolveRuleOptions());
  return { texts: findings.map((f) => text.get(f.wordId)).sort(), findings };
}

// CLEAN_LINES: SUBTOTAL 15.77 (line 8), TAX 1.26 (line 9), TOTAL 17.03 (line 10).
const cases: Array<[string, RuleName, readonly string[], string[], RegExp?]> = [
  [
    'tip and a coupon enter the grand total',
    'GRAND_TOTAL_ARITHMETIC',
    cleanWithLines({
      9: 'TAX 1.26|TAX TIP 3.00|TIP',
      10: 'SAVE5|COUPON -1.00|COUPON TOTAL 19.03|GRAND_TOTAL',
    }),
    [],
  ],
  [
    'a discount printed with a trailing minus is taken off',
    'GRAND_TOTAL_ARITHMETIC',
    cleanWith(10, 'DISC 2.00-|DISCOUNT TOTAL 15.03|GRAND_TOTAL'),
    [],
  ],
  [
    'a forgotten discount breaks the equation and names its terms',
    'GRAND_TOTAL_ARITHMETIC',
    cleanWith(10, 'DISC -2.00|DISCOUNT TOTAL 17.03|GRAND_TOTAL'),
    ['-2.00', '1.26', '15.77', '17.03'],
    /GRAND_TOTAL 17\.03 != SUBTOTAL 15\.77 \+ TAX 1\.26 - DISCOUNT\/COUPON 2\.00 \(diff 2\.00\)/,
  ],
  ['a website reads as a web address', 'WEBSITE_FORMAT', [...cleanWith(12, 'www.blueoak.com|WEBSITE')], []],
  ['an email is a website too', 'WEBSITE_FORMAT', [...cleanWith(12, 'help@blueoak.com|WEBSITE')], []],
  ['words are not a website', 'WEBSITE_FORMAT', [...cleanWith(12, 'THANK|WEBSITE YOU')], ['THANK']],
  [
    'a date labelled TIME conflicts',
    'TEXT_LABEL_CONFLICT',
    cleanWith(4, '03/14/2024|TIME 10:45|TIME AM|TIME'),
    ['03/14/2024'],
  ],
  [
    'an amount labelled PRODUCT_NAME conflicts',
    'TEXT_LABEL_CONFLICT',
    cleanWith(5, 'BANANAS|PRODUCT_NAME 1.29|PRODUCT_NAME'),
    ['1.29'],
  ],
  ['a clock time may be STORE_HOURS', 'TEXT_LABEL_CONFLICT', cleanWith(12, 'OPEN 8:00|STORE_HOURS'), []],
  [
    'a web address labelled MERCHANT_NAME conflicts',
    'TEXT_LABEL_CONFLICT',
    cleanWith(12, 'blueoak.com|MERCHANT_NAME'),
    ['blueoak.com'],
  ],
  [
    'an unlabelled word between two of a label',
    'MISSING_LINE_LABEL',
    cleanWith(0, 'BLUE|MERCHANT_NAME OAK MARKET|MERCHANT_NAME'),
    ['OAK'],
  ],
  [
    'an unlabelled word at the line end is left alone',
    'MISSING_LINE_LABEL',
    cleanWith(0, 'BLUE|MERCHANT_NAME OAK|MERCHANT_NAME MARKET'),
    [],
  ],
  [
    'neighbours with different labels propose nothing',
    'MISSING_LINE_LABEL',
    cleanWith(7, 'EGGS|PRODUCT_NAME 3|QUANTITY @ 2.50|UNIT_PRICE 7.50|LINE_TOTAL'),
    [],
  ],
];

void describe('seed-vocabulary rules', () => {
  for (const [name, rule, lines, expected, message] of cases) {
    void test(`${rule}: ${name}`, () => {
      const { texts, findings } = flagged(rule, lines);
      assert.deepEqual(texts, [...expected].sort());
      if (message) for (const f of findings) assert.match(f.message, message);
    });
  }

  void test('an unlabelled word a rule proposes a label for becomes an issue marked unlabelled', () => {
    const receipt = receiptFrom(cleanWith(0, 'BLUE|MERCHANT_NAME OAK MARKET|MERCHANT_NAME'));
    const issue = findLabelIssues(receipt).find((i) => i.text === 'OAK');
    assert.deepEqual(issue && { label: issue.label, unlabelled: issue.unlabelled, rules: issue.rules }, {
      label: 'MERCHANT_NAME',
      unlabelled: true,
      rules: ['MISSING_LINE_LABEL'],
    });
  });
});
