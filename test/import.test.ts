// The --from-file import: good records become receipts with stable ids, bad ones are rejected with reasons.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseImportFile } from '../src/domain/import';

const word = (text: string, label?: string) => (label ? { text, label } : { text });
const receipt = (receiptId: string, lines: unknown[]) => ({
  receiptId,
  merchantId: 'acme-1',
  merchantName: 'ACME MARKET',
  purchasedAt: '2026-01-31',
  lines,
});
const goodLines = [
  { words: [word('ACME', 'MERCHANT_NAME'), word('MARKET', 'MERCHANT_NAME')] },
  { words: [word('TOTAL'), word('12.34', 'GRAND_TOTAL')] },
];

describe('parseImportFile', () => {
  test('imports valid receipts with word ids and PENDING labels, and derives the merchant', () => {
    const r = parseImportFile(JSON.stringify({ receipts: [receipt('acme-1-r-1', goodLines)] }));
    assert.equal(r.rejected.length, 0);
    assert.equal(r.receipts.length, 1);
    const w = r.receipts[0]!.lines[1]!.words[1]!;
    assert.equal(w.wordId, 'acme-1-r-1#L001#W001');
    assert.deepEqual(w.label, { label: 'GRAND_TOTAL', validationStatus: 'PENDING', source: 'import' });
    assert.deepEqual(
      r.merchants.map((m) => m.merchantId),
      ['acme-1'],
    );
  });

  const badCases: Array<[string, unknown, RegExp]> = [
    ['missing merchantName', { ...receipt('b-1', goodLines), merchantName: undefined }, /merchantName/],
    ['unknown label', receipt('b-2', [{ words: [word('X', 'BANANA')] }]), /label/],
    ['no words', receipt('b-3', []), /no (lines|words)/i],
    [
      'non-numeric total',
      receipt('b-4', [{ words: [word('TOTAL'), word('abc', 'GRAND_TOTAL')] }]),
      /GRAND_TOTAL/,
    ],
    ['bad id characters', receipt('b 5/x', goodLines), /receiptId/],
    ['a ".." in its id', receipt('b..6', goodLines), /receiptId: receipt id "b\.\.6" contains "\.\."/],
    ['an id over 100 characters', receipt('r'.repeat(101), goodLines), /at most 100/],
    ['a merchant id with a slash', { ...receipt('b-7', goodLines), merchantId: '../m' }, /merchantId/],
    [
      'a word text over 200 characters',
      receipt('b-8', [{ words: [word('A'.repeat(201), 'MERCHANT_NAME')] }]),
      /lines\.0\.words\.0\.text: Too big/,
    ],
    [
      'a merchant name over 200 characters',
      { ...receipt('b-9', goodLines), merchantName: 'N'.repeat(201) },
      /merchantName/,
    ],
  ];
  for (const [name, record, reason] of badCases) {
    test(`rejects a record with ${name}, keeps the good one`, () => {
      const r = parseImportFile(JSON.stringify({ receipts: [record, receipt('ok-1', goodLines)] }));
      assert.equal(r.receipts.length, 1);
      assert.equal(r.receipts[0]!.receiptId, 'ok-1');
      assert.equal(r.rejected.length, 1);
      assert.equal(r.rejected[0]!.index, 0);
      assert.match(r.rejected[0]!.reasons.join('; '), reason);
    });
  }

  test('rejects a duplicated receiptId', () => {
    const r = parseImportFile(
      JSON.stringify({ receipts: [receipt('d-1', goodLines), receipt('d-1', goodLines)] }),
    );
    assert.equal(r.receipts.length, 1);
    assert.match(r.rejected[0]!.reasons[0]!, /duplicated/);
  });

  test('a merchants entry with an invalid id makes the file invalid, naming the field', () => {
    const file = { merchants: [{ merchantId: 'a/../b', name: 'X' }], receipts: [] };
    assert.throws(() => parseImportFile(JSON.stringify(file)), /merchantId[\s\S]*outside A-Z/);
  });

  test('a file that is not JSON or has no receipts array is a clear error', () => {
    assert.throws(() => parseImportFile('{nope'), /not valid JSON/);
    assert.throws(() => parseImportFile('{"receipts": 3}'), /receipts/);
  });
});
