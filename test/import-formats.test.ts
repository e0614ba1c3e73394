// The seed project's export formats (fixtures in its shape: test/fixtures/seed-formats): LayoutLM
// records and DynamoDB items become receipts with geometry; aliases map, bad records are rejected
// one by one with the reason, and the rest is imported.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { parseImport, parseImportFile } from '../src/domain/import';
import { linesFromBoxes } from '../src/domain/import-layoutlm';
import { resolveLabel } from '../src/domain/labels';
import { allWords, type Receipt } from '../src/domain/receipt';
import { findLabelIssues } from '../src/domain/rules';

const fixture = (name: string) =>
  fs.readFileSync(path.join(__dirname, 'fixtures', 'seed-formats', name), 'utf8');
const labelsOf = (r: Receipt) => allWords(r).map((w) => w.label?.label ?? '-');
const textOf = (r: Receipt) => r.lines.map((l) => l.text);

void describe('label aliases', () => {
  const cases: Array<[string, ReturnType<typeof resolveLabel>]> = [
    ['MERCHANT_NAME', { kind: 'label', label: 'MERCHANT_NAME' }],
    ['business_name', { kind: 'label', label: 'MERCHANT_NAME', alias: 'BUSINESS_NAME' }],
    ['ADDRESS', { kind: 'label', label: 'ADDRESS_LINE', alias: 'ADDRESS' }],
    ['CARD_NUMBER', { kind: 'label', label: 'PAYMENT_METHOD', alias: 'CARD_NUMBER' }],
    ['PAYMENT-TYPE', { kind: 'label', label: 'PAYMENT_METHOD', alias: 'PAYMENT_TYPE' }],
    ['O', { kind: 'none' }],
    ['OTHER', { kind: 'none' }],
    ['BANANA', { kind: 'unknown', raw: 'BANANA' }],
  ];
  for (const [raw, expected] of cases)
    void test(`${raw} -> ${JSON.stringify(expected)}`, () => assert.deepEqual(resolveLabel(raw), expected));

  void test('the native format maps aliases too and counts them', () => {
    const r = parseImportFile(
      JSON.stringify({
        receipts: [
          {
            receiptId: 'n-1',
            merchantId: 'n',
            merchantName: 'N',
            purchasedAt: '2026-01-01',
            lines: [
              {
                words: [
                  { text: 'ACME', label: 'BUSINESS_NAME' },
                  { text: 'X', label: 'OTHER' },
                ],
              },
            ],
          },
        ],
      }),
    );
    assert.deepEqual(labelsOf(r.receipts[0]!), ['MERCHANT_NAME', '-']);
    assert.deepEqual(r.aliases, { BUSINESS_NAME: 1 });
  });
});

void describe('layoutlm', () => {
  const r = parseImport(fixture('layoutlm.json'), 'layoutlm');

  void test('good records imported, the bad ones rejected with the reason', () => {
    assert.equal(r.receipts.length, 2);
    assert.deepEqual(
      r.rejected.map((x) => x.index),
      [2, 3],
    );
    assert.match(r.rejected[0]!.reasons.join(), /unknown label "SPECIAL_PRICE".*alias/);
    assert.match(r.rejected[1]!.reasons.join(), /same length/);
    assert.deepEqual(r.aliases, { BUSINESS_NAME: 3, ADDRESS: 3, PAYMENT_TYPE: 1 });
  });

  void test('ids from receipt_key, merchant from merchant_name or the MERCHANT_NAME words', () => {
    const [a, b] = r.receipts;
    assert.equal(a!.receiptId, '3f2a9c1e-8b7d-4e21-9a0c-5d6e7f809a1b_1');
    assert.equal(a!.imageId, '3f2a9c1e-8b7d-4e21-9a0c-5d6e7f809a1b');
    assert.equal(a!.receiptNumber, 1);
    assert.equal(a!.merchantId, 'm-fresh-valley-market');
    assert.equal(b!.merchantName, 'BLUE OAK CAFE', 'no merchant_name: read from the MERCHANT_NAME tokens');
  });

  void test('lines rebuilt from the boxes in either y orientation; boxes clamped into 0..1', () => {
    const [a, b] = r.receipts;
    assert.equal(textOf(a!)[0], 'FRESH VALLEY MARKET', 'y grows upwards (the seed): top line first');
    assert.equal(textOf(a!).at(-1), 'THANK YOU');
    assert.equal(textOf(b!)[0], 'BLUE OAK CAFE', 'y grows downwards (image coordinates): flipped');
    assert.equal(textOf(b!).at(-1), 'CHANGE 4.60');
    for (const w of [...allWords(a!), ...allWords(b!)]) {
      const box = w.boundingBox!;
      for (const v of [box.x, box.y, box.x + box.width, box.y + box.height])
        assert.ok(v >= 0 && v <= 1, `${w.wordId} ${JSON.stringify(box)}`);
    }
    assert.equal(allWords(a!).at(-1)!.boundingBox!.y, 0, 'a box below 0 is clamped');
  });

  void test('tokens of one printed line group together, left to right', () => {
    const box = (x: number, y: number) => ({ x, y, width: 0.1, height: 0.02 });
    const lines = linesFromBoxes([
      { id: 'b', box: box(0.5, 0.801) },
      { id: 'a', box: box(0.1, 0.8) },
      { id: 'c', box: box(0.1, 0.7) },
    ]);
    assert.deepEqual(
      lines.map((l) => l.map((t) => t.id)),
      [['a', 'b'], ['c']],
    );
  });
});

void describe('dynamo-export', () => {
  const r = parseImport(fixture('dynamo-export.json'), 'dynamo-export');

  void test('items assembled into a receipt; bad items and a receipt without merchant rejected', () => {
    assert.equal(r.receipts.length, 1);
    const reasons = r.rejected.map((x) => x.reasons.join('; '));
    assert.equal(reasons.length, 3, reasons.join('\n'));
    assert.match(
      reasons[0]!,
      /unknown label "SPECIAL_OFFER"/,
      'a DynamoDB-typed label item with an unknown label',
    );
    assert.match(reasons[1]!, /image_id/);
    assert.match(reasons[2]!, /merchant is unknown/);
    assert.deepEqual(r.aliases, { ADDRESS: 2, CARD_NUMBER: 1 });
  });

  void test('status, proposer and reasoning kept; the INVALID label becomes a past label', () => {
    const receipt = r.receipts[0]!;
    const hammer = allWords(receipt).find((w) => w.text === 'HAMMER')!;
    assert.deepEqual(hammer.label, {
      label: 'PRODUCT_NAME',
      validationStatus: 'VALID',
      source: 'layoutlm',
      reason: 'predicted',
    });
    assert.deepEqual(hammer.pastLabels, [
      {
        label: 'MERCHANT_NAME',
        validationStatus: 'INVALID',
        source: 'pattern_labeler',
        reason: 'Capitalised word near the top',
      },
    ]);
    assert.equal(receipt.purchasedAt, '2025-03-02');
    assert.deepEqual(hammer.boundingBox, { x: 0.175, y: 0.82, width: 0.15, height: 0.03 });
  });

  void test("the rules find the word missing its neighbours' label", () => {
    const issues = findLabelIssues(r.receipts[0]!);
    const elm = issues.find((i) => i.text === 'ELM');
    assert.deepEqual(elm && [elm.label, elm.unlabelled, elm.rules], [
      'ADDRESS_LINE',
      true,
      ['MISSING_LINE_LABEL'],
    ]);
  });

  void test('a file that is not an array of items is a clear error', () => {
    assert.throws(() => parseImport('{"x": 1}', 'dynamo-export'), /JSON array of items/);
    assert.throws(() => parseImport('nope', 'layoutlm'), /layoutlm\) is not valid JSON/);
  });
});
