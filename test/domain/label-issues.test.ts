// findLabelIssues (rules merged per word, plus unverified labels) and validateReceiptShape.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateDataset } from '../../dev/generator/generator';
import type { Receipt } from '../../src/domain/receipt';
import { findLabelIssues, UNVERIFIED_LABEL, validateReceiptShape } from '../../src/domain/rules';
import { CLEAN_LINES, cleanWith, cleanWithLines, receiptFrom, wordByText } from './receipt-builder';

void describe('findLabelIssues', () => {
  void test('a clean receipt with every label VALID has no issues', () => {
    assert.deepEqual(findLabelIssues(receiptFrom(CLEAN_LINES)), []);
  });

  void test('a PENDING label no rule flags is an UNVERIFIED_LABEL issue with its line as context', () => {
    const receipt = receiptFrom(cleanWith(5, 'BANANAS|PRODUCT_NAME? 1.29|LINE_TOTAL'));
    const issues = findLabelIssues(receipt);
    assert.equal(issues.length, 1);
    const [issue] = issues;
    assert.deepEqual(
      { ...issue, message: undefined },
      {
        wordId: wordByText(receipt, 'BANANAS').wordId,
        text: 'BANANAS',
        label: 'PRODUCT_NAME',
        lineText: 'BANANAS 1.29',
        rules: [UNVERIFIED_LABEL],
        message: undefined,
      },
    );
    assert.match(issue?.message ?? '', /PENDING/);
  });

  void test('a word flagged by several rules is one issue listing them all, without UNVERIFIED_LABEL', () => {
    // The subtotal labelled GRAND_TOTAL: two grand totals, and no SUBTOTAL to check the sum.
    const receipt = receiptFrom(cleanWith(8, 'SUBTOTAL 15.77|GRAND_TOTAL?'));
    const issues = findLabelIssues(receipt);
    const ids = issues.map((i) => i.wordId);
    assert.equal(new Set(ids).size, ids.length, 'one issue per word');
    const planted = issues.find((i) => i.text === '15.77');
    assert.deepEqual(planted?.rules, ['GRAND_TOTAL_ARITHMETIC', 'SINGLE_GRAND_TOTAL']);
    assert.match(planted?.message ?? '', /no word is labelled SUBTOTAL.*; 2 words are labelled GRAND_TOTAL/);
    // The VALID true total is flagged by the same rules; the VALID tax by the sum rule only.
    assert.deepEqual(issues.find((i) => i.text === '17.03')?.rules, [
      'GRAND_TOTAL_ARITHMETIC',
      'SINGLE_GRAND_TOTAL',
    ]);
    assert.deepEqual(issues.find((i) => i.text === '1.26')?.rules, ['GRAND_TOTAL_ARITHMETIC']);
  });

  void test('issues come in line and word order', () => {
    const receipt = receiptFrom(
      cleanWithLines({
        0: 'BLUE|MERCHANT_NAME? OAK|MERCHANT_NAME MARKET|MERCHANT_NAME?',
        7: 'EGGS|PRODUCT_NAME? 3|QUANTITY @ 2.50|UNIT_PRICE 7.50|LINE_TOTAL',
        10: 'TOTAL 17.13|GRAND_TOTAL',
      }),
    );
    const texts = findLabelIssues(receipt).map((i) => i.text);
    assert.deepEqual(texts, ['BLUE', 'MARKET', 'EGGS', '15.77', '1.26', '17.13']);
  });

  void test('unlabelled words are never issues, whatever they say', () => {
    const unlabelled = CLEAN_LINES.map((line) => line.replace(/\|[A-Z_]+/g, ''));
    assert.deepEqual(findLabelIssues(receiptFrom([...unlabelled, 'TOTAL 99.99 13/45/2024'])), []);
  });

  void test('rules option restricts which rules run', () => {
    const receipt = receiptFrom(cleanWith(10, 'TOTAL 17.1|GRAND_TOTAL'));
    assert.deepEqual(
      findLabelIssues(receipt, { rules: ['MONEY_FORMAT'] }).map((i) => [i.text, i.rules]),
      [['17.1', ['MONEY_FORMAT']]],
    );
    assert.deepEqual(findLabelIssues(receipt, { rules: ['DATE_FORMAT'] }), []);
  });
});

void describe('validateReceiptShape', () => {
  void test('a clean receipt has no problems', () => {
    assert.deepEqual(validateReceiptShape(receiptFrom(CLEAN_LINES)), []);
  });

  const duplicated = receiptFrom(CLEAN_LINES);
  const [first, second] = duplicated.lines[0]?.words ?? [];
  if (first && second) second.wordId = first.wordId;

  const cases: Array<{ name: string; receipt: Receipt; max?: number; problem: RegExp }> = [
    { name: 'no lines', receipt: receiptFrom([]), problem: /has no lines/ },
    { name: 'lines but no words', receipt: receiptFrom(['', '  ']), problem: /2 line\(s\) but no words/ },
    { name: 'duplicated word ids', receipt: duplicated, problem: /duplicated word ids: ".*#L000#W000" x2/ },
    {
      name: 'unknown label',
      receipt: receiptFrom(cleanWith(11, 'VISA|PAYMENT_TYPE XXXX1234|CARD_NUMBER')),
      problem: /unknown label "PAYMENT_TYPE"/,
    },
    {
      name: 'non-numeric GRAND_TOTAL',
      receipt: receiptFrom(cleanWith(10, 'TOTAL|GRAND_TOTAL 17.03')),
      problem: /GRAND_TOTAL on non-numeric word\(s\) .*"TOTAL"/,
    },
    {
      name: 'too many words',
      receipt: receiptFrom(CLEAN_LINES),
      max: 10,
      problem: /more than maxWordsPerReceipt 10/,
    },
  ];
  for (const c of cases) {
    void test(`reports ${c.name}`, () => {
      const problems = validateReceiptShape(
        c.receipt,
        c.max === undefined ? {} : { maxWordsPerReceipt: c.max },
      );
      assert.ok(
        problems.some((p) => c.problem.test(p)),
        `expected a problem matching ${c.problem}, got ${JSON.stringify(problems)}`,
      );
    });
  }

  void test('each unknown label is reported once with its words', () => {
    const problems = validateReceiptShape(
      receiptFrom(cleanWith(11, 'VISA|PAYMENT_TYPE XXXX1234|PAYMENT_TYPE')),
    );
    assert.equal(problems.filter((p) => p.includes('PAYMENT_TYPE')).length, 1);
  });

  void test('tolerates untyped input missing its lines', () => {
    const broken = {
      receiptId: 'r-x',
      merchantId: 'm',
      merchantName: 'M',
      purchasedAt: '',
    } as unknown as Receipt;
    assert.match(validateReceiptShape(broken).join(), /r-x has no lines/);
  });
});

void describe('on a generated dataset (5 merchants x 40 receipts, 5% planted errors)', () => {
  const dataset = generateDataset({ merchants: 5, receiptsPerMerchant: 40, seed: 2024, errorRate: 0.05 });
  const issues = new Map(dataset.receipts.flatMap((r) => findLabelIssues(r)).map((i) => [i.wordId, i]));

  void test('every planted word is an issue (planted labels are PENDING)', () => {
    assert.ok(dataset.planted.length > 0);
    const missed = dataset.planted.filter((p) => !issues.has(p.wordId));
    assert.deepEqual(missed, []);
  });

  void test('a measurable share of planted errors is caught by a format, arithmetic or position rule', (t) => {
    const caught = dataset.planted.filter((p) =>
      (issues.get(p.wordId)?.rules ?? []).some((rule) => rule !== UNVERIFIED_LABEL),
    );
    const share = caught.length / dataset.planted.length;
    t.diagnostic(
      `planted errors caught by rules: ${caught.length}/${dataset.planted.length} (${(share * 100).toFixed(1)}%)`,
    );
    assert.ok(share > 0);
  });

  void test('generated receipts pass shape validation', () => {
    for (const r of dataset.receipts) assert.deepEqual(validateReceiptShape(r), [], r.receiptId);
  });
});
