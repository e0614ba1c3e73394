// Money amounts as receipts print them, to and from cents.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { formatMoney, parseMoney } from '../../src/domain/money';
import { createRng } from '../../dev/generator/random';

void describe('parseMoney', () => {
  const cases: Array<[string, number | undefined]> = [
    ['$12.34', 1234],
    ['12.34', 1234],
    ['1,234.56', 123456],
    ['$1,234,567.89', 123456789],
    ['-3.00', -300],
    ['-$3.00', -300],
    ['$-3.00', -300],
    ['0.99', 99],
    ['-0.00', 0],
    [' 12.34 ', 1234],
    ['12', undefined],
    ['12.3', undefined],
    ['12.345', undefined],
    ['1,23.45', undefined],
    ['1234,567.00', undefined],
    ['--3.00', undefined],
    ['-$-3.00', undefined],
    ['$', undefined],
    ['', undefined],
    ['12.34%', undefined],
    ['2x', undefined],
    ['12.O3', undefined],
    ['99999999999999.00', undefined],
  ];
  for (const [text, expected] of cases) {
    void test(`${JSON.stringify(text)} -> ${expected}`, () => assert.equal(parseMoney(text), expected));
  }
});

void describe('formatMoney', () => {
  const cases: Array<[number, boolean, string]> = [
    [123456, false, '1,234.56'],
    [-300, false, '-3.00'],
    [5, false, '0.05'],
    [0, false, '0.00'],
    [1234, true, '$12.34'],
    [-1234, true, '-$12.34'],
    [100000000, false, '1,000,000.00'],
  ];
  for (const [cents, dollarSign, expected] of cases) {
    void test(`${cents} -> ${expected}`, () => assert.equal(formatMoney(cents, { dollarSign }), expected));
  }

  void test('rejects fractional cents', () => assert.throws(() => formatMoney(1.5), /integer cents/));

  void test('parseMoney reads back whatever formatMoney prints', () => {
    const rng = createRng(99);
    for (let i = 0; i < 500; i++) {
      const cents = rng.int(-10_000_000, 10_000_000);
      assert.equal(parseMoney(formatMoney(cents, { dollarSign: rng.chance(0.5) })), cents);
    }
  });
});
