// The seeded PRNG and its helpers: reproducible, in range, and independent per key.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createRng, hashString, mulberry32, seededFor } from '../../dev/generator/random';

const draws = <T>(next: () => T, n: number): T[] => Array.from({ length: n }, next);

void describe('hashString (FNV-1a 32-bit)', () => {
  // Published FNV-1a test vectors.
  const vectors: Array<[string, number]> = [
    ['', 0x811c9dc5],
    ['a', 0xe40c292c],
    ['foobar', 0xbf9cf968],
  ];
  for (const [input, expected] of vectors) {
    void test(JSON.stringify(input), () => assert.equal(hashString(input), expected));
  }
});

void describe('mulberry32', () => {
  void test('the same seed repeats the sequence; another seed does not', () => {
    assert.deepEqual(draws(mulberry32(42), 20), draws(mulberry32(42), 20));
    assert.notDeepEqual(draws(mulberry32(42), 20), draws(mulberry32(43), 20));
  });

  void test('values lie in [0, 1) and average about one half', () => {
    const xs = draws(mulberry32(7), 10_000);
    assert.ok(xs.every((x) => x >= 0 && x < 1));
    const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
    assert.ok(Math.abs(mean - 0.5) < 0.02, `mean ${mean}`);
  });
});

void describe('Rng', () => {
  void test('int covers both bounds and nothing outside', () => {
    const rng = createRng(1);
    const seen = new Set(draws(() => rng.int(3, 7), 1000));
    assert.deepEqual([...seen].sort(), [3, 4, 5, 6, 7]);
  });

  void test('int and float reject bad bounds', () => {
    const rng = createRng(1);
    assert.throws(() => rng.int(5, 4), RangeError);
    assert.throws(() => rng.int(0.5, 4), RangeError);
    assert.throws(() => rng.float(2, 1), RangeError);
  });

  void test('float stays in [min, max)', () => {
    const rng = createRng(2);
    assert.ok(draws(() => rng.float(-2, 3), 1000).every((x) => x >= -2 && x < 3));
  });

  void test('chance(0) never and chance(1) always', () => {
    const rng = createRng(3);
    assert.ok(draws(() => rng.chance(0), 200).every((x) => !x));
    assert.ok(draws(() => rng.chance(1), 200).every((x) => x));
  });

  void test('pick returns members and throws on an empty list', () => {
    const rng = createRng(4);
    const items = ['a', 'b', 'c'];
    assert.deepEqual(new Set(draws(() => rng.pick(items), 200)), new Set(items));
    assert.throws(() => rng.pick([]), /empty/);
  });

  void test('shuffle permutes a copy and leaves the input alone', () => {
    const rng = createRng(5);
    const items = Array.from({ length: 50 }, (_, i) => i);
    const shuffled = rng.shuffle(items);
    assert.deepEqual(
      items,
      Array.from({ length: 50 }, (_, i) => i),
    );
    assert.deepEqual(
      [...shuffled].sort((a, b) => a - b),
      items,
    );
    assert.notDeepEqual(shuffled, items);
  });

  void test('sample gives distinct members, at most all of them', () => {
    const rng = createRng(6);
    const items = Array.from({ length: 20 }, (_, i) => i);
    const picked = rng.sample(items, 8);
    assert.equal(picked.length, 8);
    assert.equal(new Set(picked).size, 8);
    assert.ok(picked.every((x) => items.includes(x)));
    assert.equal(rng.sample(items, 50).length, 20);
    assert.throws(() => rng.sample(items, -1), RangeError);
  });
});

void describe('seededFor', () => {
  const first = (seed: number, ...keys: Array<string | number>) =>
    draws(() => seededFor(seed, ...keys).next(), 1)[0];
  void test('same seed and keys give the same stream', () => {
    const a = seededFor(1, 'receipt', 'm-0001-r-00001');
    const b = seededFor(1, 'receipt', 'm-0001-r-00001');
    assert.deepEqual(
      draws(() => a.next(), 10),
      draws(() => b.next(), 10),
    );
  });
  void test('a different seed or key gives a different stream', () => {
    assert.notEqual(first(1, 'a'), first(2, 'a'));
    assert.notEqual(first(1, 'a'), first(1, 'b'));
    assert.notEqual(first(1, 'a', 'bc'), first(1, 'ab', 'c'));
  });
});
