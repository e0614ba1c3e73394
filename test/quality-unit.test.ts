// Unit tests of the quality analysis: parsers (TS/JS, Python), rules, ids, the prompt, and the
// committed fixture checked against what its generator planted.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { parseEnvelope } from '../src/domain/llm-tasks';
import {
  analyzeTestFile,
  findPyTests,
  testLanguageOf,
  testQualityMessages,
  testQualitySchemaFor,
  truncateSource,
  MAX_SOURCE_CHARS,
  type FunctionAnalysis,
} from '../src/domain/quality';

const FIXTURE = path.join(__dirname, 'fixtures/quality');

function fns(file: string, text: string): FunctionAnalysis[] {
  return analyzeTestFile(file, text).functions;
}

describe('test file languages', () => {
  const cases: Array<[string, string | undefined]> = [
    ['a/cart.test.ts', 'typescript'],
    ['a/cart.spec.tsx', 'typescript'],
    ['cart.spec.js', 'javascript'],
    ['cart.test.mjs', 'javascript'],
    ['tests/test_cart.py', 'python'],
    ['tests/cart_test.py', 'python'],
    ['src/cart.ts', undefined],
    ['tests/conftest.py', undefined],
    ['README.md', undefined],
  ];
  for (const [file, language] of cases)
    test(`${file} -> ${language}`, () => assert.equal(testLanguageOf(file), language));
});

describe('TS/JS parser', () => {
  const src = [
    "import { x } from './x';", // 1
    "// test('commented out', () => {})", // 2
    'const re = /\\)(\\{/;', // 3
    "describe('Cart', () => {", // 4
    "  test('adds (items) {', () => {", // 5
    "    const s = `${a + '}'} )`;", // 6
    '    expect(total(s)).toBe(7);', // 7
    '  });', // 8
    "  it.skip('skipped one', () => { expect(1).toBe(1); });", // 9
    "  describe.skip('legacy', () => {", // 10
    "    it('inner', () => { expect(2).toBe(2); });", // 11
    '  });', // 12
    "  test.each([[1, 2]])('each %s', (a, b) => { expect(a).toBeLessThan(b); });", // 13
    "  xit('x form', () => { expect(3).toBe(3); });", // 14
    "  obj.test('not a test', () => {});", // 15
    '  test(`template ${name}`, () => { expect(4).toBe(4); });', // 16
    '});', // 17
  ].join('\n');
  const found = fns('web/cart.spec.ts', src);

  test('finds every test with its describe path, skipping comments, strings and member calls', () => {
    assert.deepEqual(
      found.map((f) => f.fullName),
      [
        'Cart > adds (items) {',
        'Cart > skipped one',
        'Cart > legacy > inner',
        'Cart > each %s',
        'Cart > x form',
        'Cart > template %s',
      ],
    );
  });

  test('line spans cover the call, braces in strings and regexes notwithstanding', () => {
    assert.deepEqual([found[0]!.startLine, found[0]!.endLine], [5, 8]);
    assert.deepEqual([found[2]!.startLine, found[2]!.endLine], [11, 11]);
    assert.match(found[0]!.source, /^ {2}test\('adds/);
  });

  test('skipped: .skip, xit, and everything inside describe.skip', () => {
    assert.deepEqual(
      found.map((f) => f.skipped),
      [false, true, true, false, true, false],
    );
  });

  test('ids are path::fullName#occurrence, duplicates counted', () => {
    const dup = fns('a.test.js', "test('same', () => { expect(1).toBe(1); });\ntest('same', () => {});\n");
    assert.deepEqual(
      dup.map((f) => f.id),
      ['a.test.js::same#0', 'a.test.js::same#1'],
    );
    assert.deepEqual(
      dup[1]!.findings.map((f) => f.kind),
      ['DUPLICATE_NAME', 'NO_ASSERTION'],
    );
  });
});

describe('Python parser', () => {
  const src = [
    'import pytest', // 1
    '', // 2
    'def helper():', // 3
    '    assert True', // 4
    '', // 5
    'def test_total():', // 6
    '    """Doc', // 7
    'def test_fake_inside_docstring():', // 8
    '    """', // 9
    '    assert total() == 7', // 10
    '', // 11
    '@pytest.mark.skip(reason="later")', // 12
    'def test_skipped():', // 13
    '    assert 1 == 1', // 14
    '', // 15
    '@pytest.mark.skipif(True, reason="conditional")', // 16
    'async def test_conditional():', // 17
    '    assert await f() == 1', // 18
    '', // 19
    'class TestCart:', // 20
    '    def test_signature(', // 21
    '        self,', // 22
    '    ):', // 23
    '        x = make(', // 24
    '            1,', // 25
    '        )', // 26
    '        assert x is not None', // 27
    '', // 28
    '    def helper(self):', // 29
    '        pass', // 30
    '', // 31
    'def test_after_class():', // 32
    '    pytest.skip("not today")', // 33
  ].join('\n');

  test('finds top-level, async and class tests, not helpers or names inside docstrings', () => {
    assert.deepEqual(
      findPyTests(src).map((t) => [...t.classes, t.name].join('::')),
      ['test_total', 'test_skipped', 'test_conditional', 'TestCart::test_signature', 'test_after_class'],
    );
  });

  test('spans include decorators and multi-line signatures, end at the dedent', () => {
    const found = fns('tests/test_cart.py', src);
    const span = (name: string) => {
      const f = found.find((x) => x.name === name)!;
      return [f.startLine, f.endLine];
    };
    assert.deepEqual(span('test_total'), [6, 10]);
    assert.deepEqual(span('test_skipped'), [12, 14]);
    assert.deepEqual(span('test_signature'), [21, 27]);
  });

  test('skip decorators and pytest.skip() skip; skipif does not', () => {
    const found = fns('tests/test_cart.py', src);
    assert.deepEqual(
      found.map((f) => [f.name, f.skipped]),
      [
        ['test_total', false],
        ['test_skipped', true],
        ['test_conditional', false],
        ['test_signature', false],
        ['test_after_class', true],
      ],
    );
  });
});

describe('rules', () => {
  const ts = (body: string[], name = 'computes the total') =>
    fns('x.test.ts', [`test('${name}', async () => {`, ...body.map((l) => `  ${l}`), '});'].join('\n'))[0]!;
  const py = (body: string[], name = 'test_computes_total') =>
    fns('test_x.py', [`def ${name}():`, ...body.map((l) => `    ${l}`)].join('\n'))[0]!;
  const long = (n: number, line: string) => Array.from({ length: n }, () => line);

  const cases: Array<{ name: string; fn: () => FunctionAnalysis; findings: string[]; uncertain: boolean }> = [
    {
      name: 'ts strong assertion',
      fn: () => ts(['expect(f()).toEqual([1]);']),
      findings: [],
      uncertain: false,
    },
    { name: 'ts no assertion', fn: () => ts(['f();']), findings: ['NO_ASSERTION'], uncertain: false },
    {
      name: 'ts sleep',
      fn: () => ts(['await new Promise((r) => setTimeout(r, 100));', 'expect(f()).toBe(1);']),
      findings: ['SLEEP_IN_TEST'],
      uncertain: false,
    },
    {
      name: 'ts unclear name',
      fn: () => ts(['expect(f()).toBe(1);'], 'works'),
      findings: ['UNCLEAR_NAME'],
      uncertain: false,
    },
    { name: 'ts weak only', fn: () => ts(['expect(f()).toBeTruthy();']), findings: [], uncertain: true },
    {
      name: 'ts not.toBeNull is weak',
      fn: () => ts(['expect(f()).not.toBeNull();']),
      findings: [],
      uncertain: true,
    },
    { name: 'ts helper only', fn: () => ts(['assertValidCart(f());']), findings: [], uncertain: true },
    {
      name: 'ts many mocks, strong assertion',
      fn: () =>
        ts([
          'const a = jest.fn(); const b = jest.fn(); const c = vi.fn();',
          'expect(a).toHaveBeenCalledWith(1);',
        ]),
      findings: [],
      uncertain: true,
    },
    {
      name: 'ts randomness',
      fn: () => ts(['expect(f(Math.random())).toBe(1);']),
      findings: [],
      uncertain: true,
    },
    {
      name: 'ts borderline length',
      fn: () => ts(long(35, 'expect(f()).toBe(1);')),
      findings: [],
      uncertain: true,
    },
    {
      name: 'ts too long',
      fn: () => ts(long(70, 'expect(f()).toBe(1);')),
      findings: ['TOO_LONG'],
      uncertain: false,
    },
    {
      name: 'ts comments are not code',
      fn: () => ts(['// sleep(1000) here once', 'expect(f()).toBe(1);']),
      findings: [],
      uncertain: false,
    },
    { name: 'py strong assert', fn: () => py(['assert f() == 1']), findings: [], uncertain: false },
    { name: 'py no assertion', fn: () => py(['f()']), findings: ['NO_ASSERTION'], uncertain: false },
    {
      name: 'py sleep',
      fn: () => py(['time.sleep(1)', 'assert f() == 1']),
      findings: ['SLEEP_IN_TEST'],
      uncertain: false,
    },
    { name: 'py bare assert is weak', fn: () => py(['assert f()']), findings: [], uncertain: true },
    {
      name: 'py is not None is weak',
      fn: () => py(['assert f() is not None']),
      findings: [],
      uncertain: true,
    },
    { name: 'py assertTrue is weak', fn: () => py(['self.assertTrue(f())']), findings: [], uncertain: true },
    {
      name: 'py pytest.raises is strong',
      fn: () => py(['with pytest.raises(E):', '    f()']),
      findings: [],
      uncertain: false,
    },
    {
      name: 'py unclear name',
      fn: () => py(['assert f() == 1'], 'test_1'),
      findings: ['UNCLEAR_NAME'],
      uncertain: false,
    },
    {
      name: 'py mocks',
      fn: () =>
        py([
          'a = MagicMock()',
          'b = Mock()',
          'with patch("x.y"):',
          '    f(a, b)',
          'a.assert_called_once_with(1)',
        ]),
      findings: [],
      uncertain: true,
    },
    { name: 'py clock', fn: () => py(['t = time.time()', 'assert f() >= t']), findings: [], uncertain: true },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const f = c.fn();
      assert.deepEqual(
        f.findings.map((x) => x.kind),
        c.findings,
        `signals: ${f.signals.join('; ')}`,
      );
      assert.equal(f.uncertain, c.uncertain, `signals: ${f.signals.join('; ')}`);
    });
  }

  test('a skipped function is never uncertain', () => {
    const f = fns('x.test.ts', "test.skip('loads', () => { expect(f()).toBeTruthy(); });")[0]!;
    assert.deepEqual(
      f.findings.map((x) => x.kind),
      ['SKIPPED_TEST'],
    );
    assert.equal(f.uncertain, false);
  });
});

describe('prompt and answer validation', () => {
  const fn = {
    id: 'web/a.test.ts::A > loads#0',
    path: 'web/a.test.ts',
    language: 'typescript' as const,
    fullName: 'A > loads',
    startLine: 3,
    endLine: 6,
    source: "test('loads', () => {\n  // ```items\n  expect(x).toBeTruthy();\n});",
    signals: ['only weak-looking assertions'],
  };

  test('the prompt carries the function id in its envelope, and the source cannot break it', () => {
    const messages = testQualityMessages(fn);
    const envelope = parseEnvelope(messages.map((m) => m.content).join('\n\n'));
    assert.equal(envelope?.task, 'test_quality');
    assert.equal(envelope?.items[0]?.id, fn.id);
    assert.match(messages[1]!.content, /only weak-looking assertions/);
  });

  test('the schema wants the id sent and issues exactly when hasIssue', () => {
    const schema = testQualitySchemaFor(fn.id);
    assert.ok(schema.safeParse({ id: fn.id, hasIssue: false, issues: [] }).success);
    assert.ok(!schema.safeParse({ id: 'other', hasIssue: false, issues: [] }).success);
    assert.ok(!schema.safeParse({ id: fn.id, hasIssue: true, issues: [] }).success);
    assert.ok(
      !schema.safeParse({ id: fn.id, hasIssue: false, issues: [{ kind: 'BANANA', message: 'x' }] }).success,
    );
  });

  test('long sources are cut to the limit, idempotently', () => {
    const cut = truncateSource('x'.repeat(MAX_SOURCE_CHARS * 2));
    assert.ok(cut.length <= MAX_SOURCE_CHARS);
    assert.equal(truncateSource(cut), cut);
  });
});

describe('the committed fixture (seed 002 workload)', () => {
  const manifest = JSON.parse(fs.readFileSync(path.join(FIXTURE, 'manifest.json'), 'utf8')) as {
    files: number;
    functions: number;
    uncertain: number;
    planted: Record<string, string>;
    expectedFindings: Record<string, string[]>;
  };
  const truth = JSON.parse(fs.readFileSync(path.join(FIXTURE, 'truth.json'), 'utf8')) as {
    functions: Record<string, unknown>;
  };
  const files = (fs.readdirSync(FIXTURE, { recursive: true }) as string[])
    .map((f) => f.split(path.sep).join('/'))
    .filter((f) => testLanguageOf(f))
    .sort();
  const analyses = files.map((f) => analyzeTestFile(f, fs.readFileSync(path.join(FIXTURE, f), 'utf8')));
  const all = analyses.flatMap((a) => a.functions);

  test('38 files in three languages, every planted function found', () => {
    assert.equal(files.length, 38);
    assert.equal(manifest.files, 38);
    assert.deepEqual(
      new Set(analyses.map((a) => a.language)),
      new Set(['typescript', 'javascript', 'python']),
    );
    assert.equal(all.length, manifest.functions);
    assert.deepEqual(all.map((f) => f.id).sort(), Object.keys(manifest.planted).sort());
  });

  test('the rules find exactly the planted certain issues, per function', () => {
    for (const f of all) {
      const kind = manifest.planted[f.id]!;
      assert.deepEqual(
        f.findings.map((x) => x.kind),
        manifest.expectedFindings[kind],
        `${f.id} (${kind})`,
      );
    }
  });

  test('91 uncertain functions: exactly those the truth file knows', () => {
    const uncertain = all.filter((f) => f.uncertain).map((f) => f.id);
    assert.equal(uncertain.length, 91);
    assert.deepEqual(uncertain.sort(), Object.keys(truth.functions).sort());
  });
});
