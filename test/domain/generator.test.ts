// The synthetic dataset: deterministic, arithmetically sound, with the planted errors it claims.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDate, parseTime } from '../../src/domain/datetime';
import { generateDataset, PLAUSIBLE_CONFUSIONS, type GenerateOptions } from '../../dev/generator/generator';
import type { Label } from '../../src/domain/llm-tasks';
import { parseMoney } from '../../src/domain/money';
import { parseQuantity } from '../../src/domain/quantity';
import { allWords, lineIdOf, wordIdOf, type Receipt, type Word } from '../../src/domain/receipt';
import { findLabelIssues, runRules } from '../../src/domain/rules';

const small: GenerateOptions = { merchants: 4, receiptsPerMerchant: 10, seed: 11 };

/** The receipt as it should be: every label replaced by its true label from the truth. */
function withTrueLabels(receipt: Receipt, truth: Record<string, { label: Label }>): Receipt {
  return {
    ...receipt,
    lines: receipt.lines.map((line) => ({
      ...line,
      words: line.words.map((w): Word => {
        if (!w.label) return w;
        const real = truth[w.wordId];
        assert.ok(real, `labelled word ${w.wordId} is missing from truth`);
        return { ...w, label: { ...w.label, label: real.label } };
      }),
    })),
  };
}

function cents(words: Word[]): number[] {
  return words.map((w) => {
    const value = parseMoney(w.text);
    assert.ok(value !== undefined, `${w.wordId} ${JSON.stringify(w.text)} is not money`);
    return value;
  });
}

const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);

void describe('generateDataset', () => {
  void test('same options give a deep-equal dataset', () => {
    assert.deepStrictEqual(generateDataset(small), generateDataset({ ...small }));
  });

  void test('a different seed gives different merchants and receipts', () => {
    const a = generateDataset(small);
    const b = generateDataset({ ...small, seed: 12 });
    assert.notDeepStrictEqual(
      a.merchants.map((m) => m.name),
      b.merchants.map((m) => m.name),
    );
    assert.notDeepStrictEqual(
      a.receipts.map((r) => r.lines.map((l) => l.text)),
      b.receipts.map((r) => r.lines.map((l) => l.text)),
    );
  });

  void test('receipts add up under their true labels', () => {
    const { receipts, truth } = generateDataset({ merchants: 6, receiptsPerMerchant: 15, seed: 5 });
    for (const original of receipts) {
      const receipt = withTrueLabels(original, truth.words);
      const words = allWords(receipt);
      const labelled = (label: Label) => words.filter((w) => w.label?.label === label);
      const [subtotal, tax, total, ...extra] = [
        ...cents(labelled('SUBTOTAL')),
        ...cents(labelled('TAX')),
        ...cents(labelled('GRAND_TOTAL')),
      ];
      assert.equal(extra.length, 0, `${receipt.receiptId}: one SUBTOTAL, TAX and GRAND_TOTAL each`);
      assert.ok(subtotal !== undefined && tax !== undefined && total !== undefined);
      assert.equal(
        subtotal,
        sum(cents(labelled('LINE_TOTAL'))),
        `${receipt.receiptId}: subtotal = sum of lines`,
      );
      const tip = sum(cents(labelled('TIP')));
      const reductions = [...labelled('DISCOUNT'), ...labelled('COUPON')].filter(
        (w) => parseMoney(w.text) !== undefined,
      );
      assert.ok(
        cents(reductions).every((c) => c < 0),
        `${receipt.receiptId}: discounts and coupons print negative`,
      );
      assert.equal(
        total,
        subtotal + tax + tip + sum(cents(reductions)),
        `${receipt.receiptId}: total = subtotal + tax + tip - discounts - coupons`,
      );
      assert.ok(tax >= 0 && tax <= Math.round(subtotal * 0.1), `${receipt.receiptId}: tax rate within 0-10%`);
      for (const line of receipt.lines) {
        const of = (label: Label) => line.words.filter((w) => w.label?.label === label);
        const [qty] = of('QUANTITY');
        const [unit] = cents(of('UNIT_PRICE'));
        const [lineTotal] = cents(of('LINE_TOTAL'));
        if (!qty) continue;
        const n = parseQuantity(qty.text);
        assert.ok(n !== undefined && unit !== undefined && lineTotal !== undefined, line.text);
        assert.equal(lineTotal, n * unit, `${line.lineId}: ${line.text}`);
      }
    }
  });

  void test('under true labels no rule fires and shape is valid (the generator writes what the rules expect)', () => {
    for (const seed of [1, 2, 3]) {
      const { receipts, truth } = generateDataset({ merchants: 8, receiptsPerMerchant: 10, seed });
      for (const r of receipts) assert.deepEqual(runRules(withTrueLabels(r, truth.words)), [], r.receiptId);
    }
  });

  void test('dates, times and phones are printed in the supported formats', () => {
    const { receipts, truth } = generateDataset(small);
    for (const r of receipts) {
      const words = allWords(r).filter((w) => w.label);
      const dates = words.filter((w) => truth.words[w.wordId]?.label === 'DATE');
      assert.equal(dates.length, 1, r.receiptId);
      assert.ok(parseDate(dates[0]?.text ?? ''), dates[0]?.text);
      const times = words.filter((w) => truth.words[w.wordId]?.label === 'TIME').map((w) => w.text);
      assert.ok(parseTime(times.join(' ')), times.join(' '));
      const phone = words.filter((w) => truth.words[w.wordId]?.label === 'PHONE_NUMBER').map((w) => w.text);
      assert.match(phone.join(' '), /^\(\d{3}\) \d{3}-\d{4}$/);
      assert.match(r.purchasedAt, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:00$/);
    }
  });

  void test('truth holds exactly the labelled words', () => {
    const { receipts, truth } = generateDataset(small);
    const labelledIds = receipts.flatMap((r) =>
      allWords(r)
        .filter((w) => w.label)
        .map((w) => w.wordId),
    );
    assert.deepEqual(Object.keys(truth.words).sort(), [...labelledIds].sort());
    assert.equal(truth.seed, small.seed);
  });

  void test('ids follow the documented formats and merchant names are unique', () => {
    const { merchants, receipts } = generateDataset({ merchants: 300, receiptsPerMerchant: 0, seed: 9 });
    assert.equal(new Set(merchants.map((m) => m.name)).size, 300);
    assert.equal(merchants[0]?.merchantId, 'm-0001');
    assert.equal(merchants[299]?.merchantId, 'm-0300');
    assert.equal(receipts.length, 0);
    const some = generateDataset(small);
    assert.equal(some.receipts[0]?.receiptId, 'm-0001-r-00001');
    for (const r of some.receipts) {
      assert.match(r.receiptId, new RegExp(`^${r.merchantId}-r-\\d{5}$`));
      assert.equal(r.merchantName, some.merchants.find((m) => m.merchantId === r.merchantId)?.name);
      r.lines.forEach((line, i) => {
        assert.equal(line.lineIndex, i);
        assert.equal(line.lineId, lineIdOf(r.receiptId, i));
        assert.equal(line.text, line.words.map((w) => w.text).join(' '));
        line.words.forEach((w, j) => assert.equal(w.wordId, wordIdOf(r.receiptId, i, j)));
      });
    }
  });

  void test('skewed receiptsPerMerchant arrays are honoured', () => {
    const counts = [7, 0, 25, 1];
    const { merchants, receipts } = generateDataset({ merchants: 4, receiptsPerMerchant: counts, seed: 3 });
    assert.deepEqual(
      merchants.map((m) => receipts.filter((r) => r.merchantId === m.merchantId).length),
      counts,
    );
  });

  void test('minItems and maxItems bound the line items', () => {
    for (const [minItems, maxItems] of [
      [3, 3],
      [1, 2],
      [20, 25],
    ] as const) {
      const { receipts, truth } = generateDataset({ ...small, minItems, maxItems });
      const items = receipts.map(
        (r) => allWords(r).filter((w) => truth.words[w.wordId]?.label === 'LINE_TOTAL').length,
      );
      assert.ok(
        Math.min(...items) >= minItems && Math.max(...items) <= maxItems,
        `${minItems}..${maxItems}: ${items}`,
      );
    }
  });

  for (const errorRate of [0, 0.05, 0.2]) {
    void test(`errorRate ${errorRate}: planted count, status and labels`, () => {
      const { receipts, truth, planted } = generateDataset({ ...small, errorRate });
      const labelled = receipts.flatMap((r) => allWords(r).filter((w) => w.label));
      assert.ok(
        Math.abs(planted.length - errorRate * labelled.length) <= 1,
        `${planted.length} of ${labelled.length}`,
      );
      const byId = new Map(labelled.map((w) => [w.wordId, w]));
      const plantedIds = new Set(planted.map((p) => p.wordId));
      assert.equal(plantedIds.size, planted.length, 'a word is planted once');
      for (const p of planted) {
        const word = byId.get(p.wordId);
        assert.equal(word?.label?.validationStatus, 'PENDING', p.wordId);
        assert.equal(word?.label?.label, p.plantedLabel);
        assert.equal(truth.words[p.wordId]?.label, p.trueLabel);
        assert.notEqual(p.plantedLabel, p.trueLabel);
        assert.ok(PLAUSIBLE_CONFUSIONS[p.trueLabel].includes(p.plantedLabel));
        assert.ok(p.wordId.startsWith(`${p.receiptId}#`));
      }
      for (const w of labelled) {
        if (!plantedIds.has(w.wordId)) assert.equal(w.label?.label, truth.words[w.wordId]?.label, w.wordId);
      }
    });
  }

  // Planted labels are always PENDING, so the PENDING share is max(pendingRate, errorRate).
  for (const [pendingRate, errorRate, expectedShare] of [
    [0, 0, 0],
    [0, 0.05, 0.05],
    [0.5, 0.05, 0.5],
    [1, 0.05, 1],
  ] as const) {
    void test(`pendingRate ${pendingRate}, errorRate ${errorRate}: ${expectedShare * 100}% PENDING, the rest VALID`, () => {
      const { receipts } = generateDataset({ ...small, pendingRate, errorRate });
      const statuses = receipts.flatMap((r) =>
        allWords(r).flatMap((w) => (w.label ? [w.label.validationStatus] : [])),
      );
      const pending = statuses.filter((s) => s === 'PENDING').length;
      assert.ok(Math.abs(pending - expectedShare * statuses.length) <= 1, `${pending} of ${statuses.length}`);
      assert.equal(pending + statuses.filter((s) => s === 'VALID').length, statuses.length);
    });
  }

  void test('without errors or pending labels there is nothing to review', () => {
    const { receipts } = generateDataset({ ...small, errorRate: 0, pendingRate: 0 });
    for (const r of receipts) assert.deepEqual(findLabelIssues(r), [], r.receiptId);
  });

  const invalid: Array<[string, GenerateOptions, RegExp]> = [
    [
      'counts for the wrong number of merchants',
      { ...small, receiptsPerMerchant: [1, 2] },
      /2 counts for 4 merchants/,
    ],
    ['errorRate above 1', { ...small, errorRate: 1.5 }, /errorRate/],
    ['minItems above maxItems', { ...small, minItems: 5, maxItems: 2 }, /minItems 5 exceeds maxItems 2/],
    ['fractional merchants', { ...small, merchants: 2.5 }, /merchants/],
    [
      'negative receipt count',
      { ...small, merchants: 1, receiptsPerMerchant: [-1] },
      /receiptsPerMerchant\[0\]/,
    ],
  ];
  for (const [name, options, error] of invalid) {
    void test(`rejects ${name}`, () => assert.throws(() => generateDataset(options), error));
  }
});
