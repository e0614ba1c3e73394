// The generator speaks the seed project's vocabulary: all 22 labels on the demo's dataset, planted
// errors across them, and word geometry in the seed's convention (0..1, y = 0 at the bottom).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateDataset, PLAUSIBLE_CONFUSIONS } from '../../dev/generator/generator';
import { LABELS, LABEL_DEFINITIONS, type Label } from '../../src/domain/labels';
import { allWords } from '../../src/domain/receipt';

/** The demo's dataset (scripts/demo.ts defaults: 3 merchants x 20 receipts, seed 42). */
const demo = generateDataset({ merchants: 3, receiptsPerMerchant: 20, seed: 42 });

void describe('the 22-label vocabulary in generated data', () => {
  void test("the demo's synthetic data covers all 22 labels", () => {
    const seen = new Set(Object.values(demo.truth.words).map((w) => w.label));
    assert.deepEqual(
      LABELS.filter((l) => !seen.has(l)),
      [],
    );
    assert.equal(LABELS.length, 22);
  });

  void test('every label has a definition and plausible confusions within the vocabulary', () => {
    for (const label of LABELS) {
      assert.ok(LABEL_DEFINITIONS[label].length > 10, label);
      const confusions = PLAUSIBLE_CONFUSIONS[label];
      assert.ok(confusions.length >= 2, label);
      for (const c of confusions) assert.ok(LABELS.includes(c) && c !== label, `${label} -> ${c}`);
    }
  });

  void test('planted errors span many true labels, and the truth keeps the true one', () => {
    const big = generateDataset({ merchants: 5, receiptsPerMerchant: 60, seed: 2026 });
    const trueLabels = new Set<Label>(big.planted.map((p) => p.trueLabel));
    assert.ok(trueLabels.size >= 18, `planted on ${trueLabels.size} labels: ${[...trueLabels].join(', ')}`);
    for (const p of big.planted) {
      assert.equal(big.truth.words[p.wordId]?.label, p.trueLabel);
      assert.notEqual(p.plantedLabel, p.trueLabel);
    }
  });

  void test('discounts, coupons and refunds print negative amounts', () => {
    const amounts = allWordsOf(demo).filter(
      (w) =>
        ['DISCOUNT', 'REFUND'].includes(demo.truth.words[w.wordId]?.label ?? '') && /\d\.\d\d/.test(w.text),
    );
    assert.ok(amounts.length > 0);
    for (const w of amounts) assert.match(w.text, /^-/, w.wordId);
  });
});

void describe('word geometry', () => {
  void test('every word and line has a box within 0..1; lines go down the page as y falls', () => {
    for (const r of demo.receipts) {
      let previousY = Infinity;
      for (const line of r.lines) {
        const lb = line.boundingBox!;
        assert.ok(lb, line.lineId);
        assert.ok(lb.y < previousY, `${line.lineId}: y = 0 is the bottom, so later lines sit lower`);
        previousY = lb.y;
        for (const w of line.words) {
          const b = w.boundingBox!;
          for (const v of [b.x, b.y, b.x + b.width, b.y + b.height]) assert.ok(v >= 0 && v <= 1, w.wordId);
          assert.ok(b.x >= lb.x - 1e-4 && b.y >= lb.y - 1e-4, `${w.wordId} inside its line`);
        }
        const xs = line.words.map((w) => w.boundingBox!.x);
        assert.deepEqual(
          xs,
          [...xs].sort((a, b) => a - b),
          `${line.lineId}: words left to right`,
        );
      }
    }
  });

  void test('receipts belong to an image: a uuid and receipt number 1', () => {
    const ids = new Set(demo.receipts.map((r) => r.imageId));
    assert.equal(ids.size, demo.receipts.length);
    for (const r of demo.receipts) {
      assert.match(r.imageId ?? '', /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-a[0-9a-f]{3}-[0-9a-f]{12}$/);
      assert.equal(r.receiptNumber, 1);
    }
  });
});

function allWordsOf(ds: typeof demo) {
  return ds.receipts.flatMap(allWords);
}
