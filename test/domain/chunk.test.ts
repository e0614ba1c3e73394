// Fixed-size batches of a list; bounded concurrency over a list.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chunk, mapLimit } from '../../src/domain/chunk';

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

void test('mapLimit: results in item order, never more than the limit at once, errors propagate', async () => {
  let running = 0;
  let peak = 0;
  const out = await mapLimit([5, 1, 4, 2, 3, 0], 2, async (n) => {
    running++;
    peak = Math.max(peak, running);
    await new Promise((r) => setTimeout(r, n));
    running--;
    return n * 10;
  });
  assert.deepEqual(out, [50, 10, 40, 20, 30, 0]);
  assert.equal(peak, 2);
  assert.deepEqual(await mapLimit([], 4, async (n: number) => n), []);
  await assert.rejects(
    mapLimit([1, 2, 3], 2, async (n) => {
      if (n === 2) throw new Error('two');
      return n;
    }),
    /two/,
  );
});
