// Each label rule on hand-built receipts: cases it accepts and cases it flags, with the words flagged.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  RULES,
  RULE_NAMES,
  resolveRuleOptions,
  type RuleName,
  type RuleOptions,
} from '../../src/domain/rules';
import type { Receipt } from '../../src/domain/receipt';
import { CLEAN_LINES, cleanWith, cleanWithLines, receiptFrom } from './receipt-builder';

interface RuleCase {
  name: string;
  lines: readonly string[];
  /** Texts of the words the rule must flag, in any order; [] means the receipt passes. */
  flagged: string[];
  options?: Partial<RuleOptions>;
  /** A substring (or pattern) every message must contain. */
  message?: string | RegExp;
}

function flaggedTexts(rule: RuleName, receipt: Receipt, options: Partial<RuleOptions> = {}) {
  const text = new Map(receipt.lines.flatMap((l) => l.words).map((w) => [w.wordId, w.text]));
  const findings = RULES[rule](receipt, resolveRuleOptions(options));
  for (const f of findings) assert.equal(f.rule, rule, `finding of ${rule} names rule ${f.rule}`);
  return { texts: findings.map((f) => text.get(f.wordId) ?? `?${f.wordId}`), findings };
}

function runCases(rule: RuleName, cases: RuleCase[]): void {
  void describe(rule, () => {
    for (const c of cases) {
      void test(c.name, () => {
        const { texts, findings } = flaggedTexts(rule, receiptFrom(c.lines), c.options);
        assert.deepEqual([...new Set(texts)].sort(), [...c.flagged].sort());
        const expected = c.message;
        for (const f of findings) {
          if (typeof expected === 'string')
            assert.ok(f.message.includes(expected), `${f.message} lacks ${expected}`);
          else if (expected) assert.match(f.message, expected);
        }
      });
    }
  });
}

void test('the clean receipt passes every rule', () => {
  const receipt = receiptFrom(CLEAN_LINES);
  for (const rule of RULE_NAMES) assert.deepEqual(flaggedTexts(rule, receipt).texts, [], rule);
});

runCases('GRAND_TOTAL_ARITHMETIC', [
  { name: 'total matches', lines: CLEAN_LINES, flagged: [] },
  {
    name: 'total 0.10 too high flags subtotal, tax and total',
    lines: cleanWith(10, 'TOTAL 17.13|GRAND_TOTAL'),
    flagged: ['15.77', '1.26', '17.13'],
    message: /GRAND_TOTAL 17\.13 != SUBTOTAL 15\.77 \+ TAX 1\.26 \(diff 0\.10\)/,
  },
  {
    name: "off by 0.05 is within the default tolerance (the seed's $0.05)",
    lines: cleanWith(10, 'TOTAL 17.08|GRAND_TOTAL'),
    flagged: [],
  },
  {
    name: 'off by 0.06 is beyond the default tolerance',
    lines: cleanWith(10, 'TOTAL 16.97|GRAND_TOTAL'),
    flagged: ['15.77', '1.26', '16.97'],
    message: 'diff -0.06',
  },
  {
    name: 'tolerance 0 rejects a one-cent difference',
    lines: cleanWith(10, 'TOTAL 17.04|GRAND_TOTAL'),
    options: { totalToleranceCents: 0 },
    flagged: ['15.77', '1.26', '17.04'],
  },
  {
    name: 'missing TAX flags the words present',
    lines: cleanWith(9, 'TAX 1.26'),
    flagged: ['15.77', '17.03'],
    message: 'no word is labelled TAX',
  },
  {
    name: 'missing SUBTOTAL and TAX named together',
    lines: cleanWithLines({ 8: 'SUBTOTAL 15.77', 9: 'TAX 1.26' }),
    flagged: ['17.03'],
    message: 'SUBTOTAL or TAX',
  },
  {
    name: 'no totals at all: nothing to check',
    lines: cleanWithLines({ 8: 'SUBTOTAL 15.77', 9: 'TAX 1.26', 10: 'TOTAL 17.03' }),
    flagged: [],
  },
  {
    name: 'two tax lines are summed',
    lines: cleanWith(9, 'STATE TAX 1.00|TAX', 'CITY TAX 0.26|TAX'),
    flagged: [],
  },
  {
    name: 'a line total labelled TAX breaks the sum',
    lines: cleanWith(5, 'BANANAS|PRODUCT_NAME 1.29|TAX'),
    flagged: ['1.29', '15.77', '1.26', '17.03'],
    message: 'TAX 2.55 (sum of 2 words)',
  },
  {
    name: 'an unparsable amount is left to MONEY_FORMAT',
    lines: cleanWith(10, 'TOTAL 17.O3|GRAND_TOTAL'),
    flagged: [],
  },
]);

runCases('MONEY_FORMAT', [
  {
    name: 'dollar sign and thousands separators are money',
    lines: cleanWith(10, 'TOTAL $1,017.03|GRAND_TOTAL'),
    flagged: [],
  },
  {
    name: 'one decimal is not money',
    lines: cleanWith(5, 'BANANAS|PRODUCT_NAME 1.2|LINE_TOTAL'),
    flagged: ['1.2'],
  },
  {
    name: 'a word labelled UNIT_PRICE',
    lines: cleanWith(5, 'BANANAS|UNIT_PRICE 1.29|LINE_TOTAL'),
    flagged: ['BANANAS'],
  },
  {
    name: 'a quantity labelled TAX',
    lines: cleanWith(7, 'EGGS|PRODUCT_NAME 3|TAX @ 2.50|UNIT_PRICE 7.50|LINE_TOTAL'),
    flagged: ['3'],
  },
  { name: 'unlabelled junk is ignored', lines: cleanWith(12, 'THANK YOU 1.2.3'), flagged: [] },
  {
    name: 'non-money labels are not checked',
    lines: cleanWith(5, 'BANANAS|PRODUCT_NAME 1.29|QUANTITY'),
    flagged: [],
  },
]);

runCases('DATE_FORMAT', [
  { name: 'ISO leap day', lines: cleanWith(4, '2024-02-29|DATE'), flagged: [] },
  { name: 'impossible month and day', lines: cleanWith(4, '13/45/2024|DATE'), flagged: ['13/45/2024'] },
  { name: 'no leap day in 2023', lines: cleanWith(4, '2023-02-29|DATE'), flagged: ['2023-02-29'] },
  {
    name: 'a time labelled DATE',
    lines: cleanWith(4, '03/14/2024|DATE 10:45|DATE AM|TIME'),
    flagged: ['10:45'],
  },
  {
    name: 'an implausible year',
    lines: cleanWith(4, '01/02/1970|DATE'),
    flagged: ['01/02/1970'],
    message: '1970',
  },
  {
    name: 'minYear widens the range',
    lines: cleanWith(4, '01/02/1970|DATE'),
    options: { minYear: 1900 },
    flagged: [],
  },
]);

runCases('TIME_FORMAT', [
  { name: '24-hour time', lines: cleanWith(4, '03/14/2024|DATE 22:10|TIME'), flagged: [] },
  { name: 'hour 25', lines: cleanWith(4, '03/14/2024|DATE 25:10|TIME'), flagged: ['25:10'] },
  {
    name: 'a date labelled TIME',
    lines: cleanWith(4, '03/14/2024|TIME 10:45|TIME AM|TIME'),
    flagged: ['03/14/2024'],
  },
  {
    name: 'AM whose time is labelled otherwise',
    lines: cleanWith(4, '03/14/2024|DATE 10:45|DATE AM|TIME'),
    flagged: ['AM'],
    message: 'AM/PM',
  },
  {
    name: 'PM after a 24-hour hour',
    lines: cleanWith(4, '03/14/2024|DATE 13:45|TIME PM|TIME'),
    flagged: ['PM'],
  },
  { name: 'glued meridiem', lines: cleanWith(4, '03/14/2024|DATE 10:45PM|TIME'), flagged: [] },
]);

runCases('PHONE_FORMAT', [
  { name: 'dashed phone in one word', lines: cleanWith(3, '217-555-0134|PHONE_NUMBER'), flagged: [] },
  {
    name: 'missing a digit',
    lines: cleanWith(3, 'TEL (217)|PHONE_NUMBER 555-013|PHONE_NUMBER'),
    flagged: ['(217)', '555-013'],
  },
  {
    name: 'an address number labelled PHONE_NUMBER',
    lines: cleanWith(1, '12|PHONE_NUMBER MAIN|ADDRESS_LINE ST|ADDRESS_LINE'),
    flagged: ['12'],
  },
  {
    name: 'phone words split by another word are checked apart',
    lines: cleanWith(3, '(217)|PHONE_NUMBER TEL 555-0134|PHONE_NUMBER'),
    flagged: ['(217)', '555-0134'],
  },
  {
    name: 'a date labelled PHONE_NUMBER',
    lines: cleanWith(4, '03/14/2024|PHONE_NUMBER 10:45|TIME AM|TIME'),
    flagged: ['03/14/2024'],
  },
]);

runCases('SINGLE_GRAND_TOTAL', [
  { name: 'one total', lines: CLEAN_LINES, flagged: [] },
  {
    name: 'subtotal labelled GRAND_TOTAL flags both totals',
    lines: cleanWith(8, 'SUBTOTAL 15.77|GRAND_TOTAL'),
    flagged: ['15.77', '17.03'],
    message: '2 words are labelled GRAND_TOTAL',
  },
]);

runCases('LINE_ITEM_ARITHMETIC', [
  {
    name: 'one cent off is within tolerance',
    lines: cleanWith(6, '2x|QUANTITY MILK|PRODUCT_NAME 3.49|UNIT_PRICE 6.99|LINE_TOTAL'),
    flagged: [],
  },
  {
    name: "two cents off is within the default tolerance (the seed's $0.02)",
    lines: cleanWith(6, '2x|QUANTITY MILK|PRODUCT_NAME 3.49|UNIT_PRICE 7.00|LINE_TOTAL'),
    flagged: [],
  },
  {
    name: 'three cents off flags quantity, unit price and total',
    lines: cleanWith(6, '2x|QUANTITY MILK|PRODUCT_NAME 3.49|UNIT_PRICE 7.01|LINE_TOTAL'),
    flagged: ['2x', '3.49', '7.01'],
    message: 'LINE_TOTAL 7.01 != QUANTITY 2 x UNIT_PRICE 3.49 = 6.98 (diff 0.03)',
  },
  {
    name: 'unit price labelled LINE_TOTAL gives two line totals',
    lines: cleanWith(6, '2x|QUANTITY MILK|PRODUCT_NAME 3.49|LINE_TOTAL 6.98|LINE_TOTAL'),
    flagged: ['3.49', '6.98'],
  },
  {
    name: 'a unit price without a line total',
    lines: cleanWith(5, 'BANANAS|PRODUCT_NAME 1.29|UNIT_PRICE'),
    flagged: ['1.29'],
    message: 'without a LINE_TOTAL',
  },
  {
    name: 'a quantity labelled PRODUCT_NAME is pointed out with the prices',
    lines: cleanWith(7, 'EGGS|PRODUCT_NAME 3|PRODUCT_NAME @ 2.50|UNIT_PRICE 7.50|LINE_TOTAL'),
    flagged: ['3', '2.50', '7.50'],
  },
  {
    name: 'an unreadable quantity: only the word that makes the line add up',
    lines: cleanWith(7, 'EGGS|QUANTITY 3|PRODUCT_NAME @ 2.50|UNIT_PRICE 7.50|LINE_TOTAL'),
    flagged: ['3'],
    message: 'looks like the QUANTITY',
  },
  {
    name: 'unit price equal to total without a quantity',
    lines: cleanWith(5, 'BANANAS|PRODUCT_NAME 1.29|UNIT_PRICE 1.29|LINE_TOTAL'),
    flagged: [],
  },
  {
    name: 'quantity and total without unit price',
    lines: cleanWith(7, '3|QUANTITY EGGS|PRODUCT_NAME 7.50|LINE_TOTAL'),
    flagged: [],
  },
]);

runCases('POSITION_SANITY', [
  {
    name: 'a product word labelled MERCHANT_NAME',
    lines: cleanWith(5, 'BANANAS|MERCHANT_NAME 1.29|LINE_TOTAL'),
    flagged: ['BANANAS'],
    message: 'top 3 lines',
  },
  {
    name: 'a line total labelled TAX on an item line',
    lines: cleanWith(5, 'BANANAS|PRODUCT_NAME 1.29|TAX'),
    flagged: ['1.29'],
  },
  {
    name: 'a product labelled PAYMENT_METHOD',
    lines: cleanWith(5, 'BANANAS|PAYMENT_METHOD 1.29|LINE_TOTAL'),
    flagged: ['BANANAS'],
  },
  {
    name: 'the grand total labelled LINE_TOTAL',
    lines: cleanWith(10, 'TOTAL 17.03|LINE_TOTAL'),
    flagged: ['17.03'],
  },
  {
    name: 'a card number labelled PHONE_NUMBER',
    lines: cleanWith(11, 'VISA|PAYMENT_METHOD XXXX1234|PHONE_NUMBER'),
    flagged: ['XXXX1234'],
  },
  {
    name: 'a mislabelled merchant word does not move the item lines',
    lines: cleanWith(0, 'BLUE|MERCHANT_NAME OAK|PRODUCT_NAME'),
    flagged: ['OAK'],
  },
  {
    name: 'merchant name on line 3 passes with the default',
    lines: cleanWith(2, 'SPRINGFIELD,|MERCHANT_NAME IL|ADDRESS_LINE 62704|ADDRESS_LINE'),
    flagged: [],
  },
  {
    name: 'merchantNameTopLines 2 flags it',
    lines: cleanWith(2, 'SPRINGFIELD,|MERCHANT_NAME IL|ADDRESS_LINE 62704|ADDRESS_LINE'),
    options: { merchantNameTopLines: 2 },
    flagged: ['SPRINGFIELD,'],
  },
  {
    name: 'without item lines, header and footer fall back to halves of the receipt',
    lines: [
      'ACME|MERCHANT_NAME',
      'TOTAL 5.00|GRAND_TOTAL',
      'A',
      'B',
      'C',
      '1|ADDRESS_LINE MAIN|ADDRESS_LINE',
    ],
    flagged: ['5.00', '1', 'MAIN'],
  },
]);

runCases('QUANTITY_FORMAT', [
  {
    name: 'x prefix',
    lines: cleanWith(6, 'x2|QUANTITY MILK|PRODUCT_NAME 3.49|UNIT_PRICE 6.98|LINE_TOTAL'),
    flagged: [],
  },
  {
    name: 'a price labelled QUANTITY',
    lines: cleanWith(6, '2x|QUANTITY MILK|PRODUCT_NAME 3.49|QUANTITY 6.98|LINE_TOTAL'),
    flagged: ['3.49'],
  },
  {
    name: 'a word labelled QUANTITY',
    lines: cleanWith(6, '2x|QUANTITY MILK|QUANTITY 3.49|UNIT_PRICE 6.98|LINE_TOTAL'),
    flagged: ['MILK'],
  },
  {
    name: 'zero',
    lines: cleanWith(7, 'EGGS|PRODUCT_NAME 0|QUANTITY @ 2.50|UNIT_PRICE 7.50|LINE_TOTAL'),
    flagged: ['0'],
  },
  {
    name: 'above maxQuantity',
    lines: cleanWith(7, 'EGGS|PRODUCT_NAME 1000|QUANTITY @ 2.50|UNIT_PRICE 7.50|LINE_TOTAL'),
    flagged: ['1000'],
    message: '1..999',
  },
  {
    name: 'maxQuantity raised',
    lines: cleanWith(7, 'EGGS|PRODUCT_NAME 1000|QUANTITY @ 2.50|UNIT_PRICE 7.50|LINE_TOTAL'),
    options: { maxQuantity: 5000 },
    flagged: [],
  },
]);

void describe('resolveRuleOptions', () => {
  void test('applies defaults', () => {
    const opts = resolveRuleOptions();
    assert.equal(opts.totalToleranceCents, 5);
    assert.equal(opts.lineItemToleranceCents, 2);
    assert.equal(opts.maxWordsPerReceipt, 1000);
    assert.deepEqual([...opts.rules], [...RULE_NAMES]);
  });
  const bad: Array<[string, Partial<RuleOptions>, RegExp]> = [
    ['negative tolerance', { totalToleranceCents: -1 }, /totalToleranceCents/],
    ['fraction above 1', { headerMaxFraction: 1.5 }, /headerMaxFraction/],
    ['years reversed', { minYear: 2050, maxYear: 2000 }, /minYear/],
    ['unknown rule', { rules: ['NO_SUCH_RULE' as RuleName] }, /NO_SUCH_RULE/],
  ];
  for (const [name, options, error] of bad) {
    void test(`rejects ${name}`, () => assert.throws(() => resolveRuleOptions(options), error));
  }
});
