// Fixed-size batches of a list.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chunk } from '../../src/domain/chunk';

const cases: Array<[number[], number, number[][]]> = [
  [[], 3, []],
  [[1, 2, 3], 1, [[1], [2], [3]]],
  [[1, 2, 3, 4, 5], 2, [[1, 2], [3, 4], [5]]],
  [
    [1, 2, 3, 4],
    2,
    [
      [1, 2],
      [3, 4],
    ],
  ],
  [[1, 2], 20, [[1, 2]]],
];
for (const [items, size, expected] of cases) {
  void test(`chunk(${JSON.stringify(items)}, ${size})`, () => assert.deepEqual(chunk(items, size), expected));
}

for (const size of [0, -1, 1.5, Number.NaN]) {
  void test(`rejects size ${size}`, () =>
    assert.throws(() => chunk([1], size), /chunk size must be an integer >= 1/));
}
