// Writes test/fixtures/quality/: a test suite shaped like seed 002's workload (38 files of
// TypeScript, JavaScript and Python tests, 91 functions the rules cannot decide), the oracle's
// truth for those functions (truth.json, merged into TRUTH_FILE by tests, bench and
// `seed --quality-truth`), and manifest.json: what was planted in every function, so the unit tests
// can check the rule engine against it. Deterministic: `npx tsx scripts/make-quality-fixtures.ts`.
import fs from 'node:fs';
import path from 'node:path';
import type { TestQualityAnswer } from '../src/domain/llm-tasks';
import { functionIdOf } from '../src/domain/quality';
import type { QualityIssueKind } from '../src/domain/quality';
import { seededFor, type Rng } from '../dev/generator/random';

const OUT = path.resolve(__dirname, '../test/fixtures/quality');
const SEED = 2026;
const FILES = { typescript: 16, javascript: 10, python: 12 } as const;
const UNCERTAIN_TOTAL = 91;

export const CERTAIN_KINDS = [
  'clean',
  'no_assertion',
  'sleep',
  'skipped',
  'too_long',
  'duplicate',
  'unclear_name',
] as const;
export const UNCERTAIN_KINDS = [
  'weak_assertion',
  'helper_assert',
  'mocked_ok',
  'over_mocked',
  'borderline_ok',
  'borderline_bad',
  'flaky',
  'clock_ok',
] as const;
type Kind = (typeof CERTAIN_KINDS)[number] | (typeof UNCERTAIN_KINDS)[number];

/** The rules' certain findings each planted kind must produce (uncertain kinds: none). */
export const EXPECTED_FINDINGS: Record<Kind, QualityIssueKind[]> = {
  clean: [],
  no_assertion: ['NO_ASSERTION'],
  sleep: ['SLEEP_IN_TEST'],
  skipped: ['SKIPPED_TEST'],
  too_long: ['TOO_LONG'],
  duplicate: ['DUPLICATE_NAME'],
  unclear_name: ['UNCLEAR_NAME'],
  weak_assertion: [],
  helper_assert: [],
  mocked_ok: [],
  over_mocked: [],
  borderline_ok: [],
  borderline_bad: [],
  flaky: [],
  clock_ok: [],
};

/** What a perfect reviewer says about each uncertain kind. */
const VERDICTS: Record<(typeof UNCERTAIN_KINDS)[number], Omit<TestQualityAnswer, 'id'>> = {
  weak_assertion: {
    hasIssue: true,
    issues: [{ kind: 'WEAK_ASSERTION', message: 'It only checks that a result exists, not its value.' }],
  },
  helper_assert: { hasIssue: false, issues: [] },
  mocked_ok: { hasIssue: false, issues: [] },
  over_mocked: {
    hasIssue: true,
    issues: [
      { kind: 'OVER_MOCKED', message: 'Every collaborator is mocked; it only checks the mocks were called.' },
    ],
  },
  borderline_ok: { hasIssue: false, issues: [] },
  borderline_bad: {
    hasIssue: true,
    issues: [{ kind: 'TOO_LONG', message: 'It tests creation, update and deletion at once; split it.' }],
  },
  flaky: {
    hasIssue: true,
    issues: [{ kind: 'FLAKY_PATTERN', message: 'Its input is random, so a failure cannot be reproduced.' }],
  },
  clock_ok: { hasIssue: false, issues: [] },
};

const NOUNS = [
  'cart',
  'invoice',
  'order',
  'session',
  'report',
  'token',
  'profile',
  'ticket',
  'payment',
  'coupon',
];
const cap = (s: string) => s[0]!.toUpperCase() + s.slice(1);

interface Built {
  name: string;
  lines: string[];
}

/** One test function's text for a TS/JS file, at describe-body indentation. */
function jsTest(kind: Kind, noun: string, n: number, rng: Rng, ts: boolean, name?: string): Built {
  const N = cap(noun);
  const call = ts ? 'test' : 'it';
  const wrap = (title: string, body: string[], opts: { async?: boolean; callee?: string } = {}): Built => ({
    name: title,
    lines: [
      `  ${opts.callee ?? call}('${title}', ${opts.async ? 'async ' : ''}() => {`,
      ...body.map((l) => (l ? `    ${l}` : '')),
      '  });',
    ],
  });
  const typed = ts ? `: ${N}` : '';
  switch (kind) {
    case 'clean':
    case 'duplicate':
    case 'unclear_name':
      return wrap(name ?? `computes the ${noun} total with an item priced ${n}`, [
        `const ${noun}${typed} = make${N}([{ price: 3 }, { price: ${n} }]);`,
        `expect(total${N}(${noun})).toBe(${3 + n});`,
        `expect(${noun}.items).toHaveLength(2);`,
      ]);
    case 'no_assertion':
      return wrap(`updates the ${noun} status to active ${n}`, [
        `const ${noun}${typed} = make${N}({ id: ${n} });`,
        `${noun}.setStatus('active');`,
        `console.log(${noun}.status);`,
      ]);
    case 'sleep':
      return wrap(
        `refreshes the ${noun} version after saving ${n}`,
        [
          `const ${noun}${typed} = make${N}({ id: ${n} });`,
          `save${N}(${noun});`,
          `await new Promise((resolve) => setTimeout(resolve, ${rng.int(2, 10) * 100}));`,
          `expect(${noun}.version).toBe(2);`,
        ],
        { async: true },
      );
    case 'skipped':
      return wrap(
        `migrates legacy ${noun} records ${n}`,
        [`const ${noun} = migrate${N}({ legacy: true, id: ${n} });`, `expect(${noun}.schema).toBe(3);`],
        { callee: rng.pick([`${call}.skip`, 'xit', `${call}.skip`]) },
      );
    case 'too_long': {
      const steps = rng.int(20, 24);
      const body = [`const ${noun}${typed} = make${N}({ id: ${n} });`];
      for (let s = 1; s <= steps; s++)
        body.push(`${noun}.advance('step-${s}');`, `expect(${noun}.state).toBe('step-${s}');`, '');
      return wrap(`walks the ${noun} through its whole lifecycle ${n}`, body);
    }
    case 'weak_assertion':
      return wrap(
        `loads the ${noun} ${n} from storage`,
        [
          `const ${noun} = await load${N}(${n});`,
          `expect(${noun}).toBeDefined();`,
          `expect(${noun}.items).toBeTruthy();`,
        ],
        { async: true },
      );
    case 'helper_assert':
      return wrap(`builds a valid ${noun} from draft ${n}`, [
        `const ${noun} = build${N}(draft${N}(${n}));`,
        `assertValid${N}(${noun});`,
      ]);
    case 'mocked_ok':
      return wrap(
        `sends the ${noun} ${n} receipt by email`,
        [
          `const mailer = { send: jest.fn().mockResolvedValue({ ok: true }) };`,
          `const store = { get: jest.fn().mockReturnValue(make${N}({ id: ${n} })) };`,
          `await send${N}Receipt(${n}, { mailer, store });`,
          `expect(mailer.send).toHaveBeenCalledWith(expect.objectContaining({ id: ${n} }));`,
        ],
        { async: true },
      );
    case 'over_mocked':
      return wrap(
        `syncs the ${noun} ${n} everywhere`,
        [
          `const db = { read: jest.fn(), write: jest.fn() };`,
          `const cache = { get: jest.fn().mockReturnValue(null), set: jest.fn() };`,
          `const bus = { publish: jest.fn() };`,
          `await sync${N}(${n}, { db, cache, bus });`,
          `expect(db.write).toHaveBeenCalled();`,
          `expect(bus.publish).toHaveBeenCalled();`,
        ],
        { async: true },
      );
    case 'borderline_ok':
    case 'borderline_bad': {
      const fields = kind === 'borderline_ok' ? rng.int(16, 24) : rng.int(20, 28);
      const body = ['const payload = {', `  id: ${n},`];
      for (let f = 1; f <= fields; f++) body.push(`  field${f}: 'value-${f}',`);
      body.push('};');
      if (kind === 'borderline_ok') {
        body.push(`const ${noun} = map${N}(payload);`, `expect(${noun}.id).toBe(${n});`);
        for (let f = 1; f <= Math.min(fields, 12); f++)
          body.push(`expect(${noun}.field${f}).toBe('value-${f}');`);
        return wrap(`maps every ${noun} ${n} field from the API payload`, body);
      }
      body.push(
        `const created = create${N}(payload);`,
        `expect(created.id).toBe(${n});`,
        `const updated = update${N}(created, { field1: 'changed' });`,
        `expect(updated.field1).toBe('changed');`,
        `expect(list${N}s()).toHaveLength(1);`,
        `delete${N}(created.id);`,
        `expect(list${N}s()).toHaveLength(0);`,
        `expect(() => get${N}(created.id)).toThrow('not found');`,
      );
      return wrap(`handles ${noun} ${n} creation, update and deletion`, body);
    }
    case 'flaky':
      return wrap(`applies a discount to a random ${noun} amount ${n}`, [
        `const amount = Math.floor(Math.random() * 100);`,
        `const ${noun} = make${N}({ amount });`,
        `expect(discount(${noun})).toBe(amount * 0.9);`,
      ]);
    case 'clock_ok':
      return wrap(`stamps the ${noun} ${n} with its creation time`, [
        `const before = Date.now();`,
        `const ${noun} = make${N}({ id: ${n} });`,
        `expect(${noun}.createdAt).toBeGreaterThanOrEqual(before);`,
      ]);
  }
}

/** One test function's text for a Python file (`indent` = 4 inside a test class). */
function pyTest(kind: Kind, noun: string, n: number, rng: Rng, inClass: boolean, name?: string): Built {
  const self = inClass ? 'self' : '';
  const pad = inClass ? '    ' : '';
  const def = (title: string, body: string[], decorators: string[] = [], params: string[] = []): Built => ({
    name: title,
    lines: [
      ...decorators.map((d) => `${pad}${d}`),
      `${pad}def ${title}(${[self, ...params].filter(Boolean).join(', ')}):`,
      ...body.map((l) => (l ? `${pad}    ${l}` : '')),
    ],
  });
  switch (kind) {
    case 'clean':
    case 'duplicate':
    case 'unclear_name':
      return def(name ?? `test_${noun}_total_with_item_priced_${n}`, [
        `${noun} = make_${noun}([{"price": 3}, {"price": ${n}}])`,
        `assert total(${noun}) == ${3 + n}`,
        `assert len(${noun}.items) == 2`,
      ]);
    case 'no_assertion':
      return def(`test_updates_${noun}_${n}_status`, [
        `${noun} = make_${noun}(id=${n})`,
        `${noun}.set_status("active")`,
        `print(${noun}.status)`,
      ]);
    case 'sleep':
      return def(`test_refreshes_${noun}_${n}_after_save`, [
        `${noun} = make_${noun}(id=${n})`,
        `save_${noun}(${noun})`,
        `time.sleep(${rng.int(1, 9) / 10})`,
        `assert ${noun}.version == 2`,
      ]);
    case 'skipped':
      return def(
        `test_migrates_legacy_${noun}_${n}`,
        [`${noun} = migrate_${noun}(legacy=True, id=${n})`, `assert ${noun}.schema == 3`],
        [rng.pick(['@pytest.mark.skip(reason="flaky on CI")', '@unittest.skip("rewrite pending")'])],
      );
    case 'too_long': {
      const steps = rng.int(20, 24);
      const body = [`${noun} = make_${noun}(id=${n})`];
      for (let s = 1; s <= steps; s++)
        body.push(`${noun}.advance("step-${s}")`, `assert ${noun}.state == "step-${s}"`, '');
      return def(`test_${noun}_${n}_full_lifecycle`, body);
    }
    case 'weak_assertion':
      return def(`test_loads_${noun}_${n}_from_storage`, [
        `${noun} = load_${noun}(${n})`,
        `assert ${noun} is not None`,
        `assert ${noun}.items`,
      ]);
    case 'helper_assert':
      return def(`test_builds_valid_${noun}_from_draft_${n}`, [
        `${noun} = build_${noun}(draft_${noun}(${n}))`,
        `check_valid_${noun}(${noun})`,
      ]);
    case 'mocked_ok':
      return def(
        `test_sends_${noun}_${n}_receipt_email`,
        [
          `store = MagicMock()`,
          `store.get.return_value = make_${noun}(id=${n})`,
          `send_${noun}_receipt(${n}, store=store)`,
          `mock_send.assert_called_once_with(to="owner@example.com", ${noun}_id=${n})`,
        ],
        [`@patch("app.audit.log")`, `@patch("app.mailer.send")`],
        ['mock_send', 'mock_log'],
      );
    case 'over_mocked':
      return def(
        `test_syncs_${noun}_${n}_everywhere`,
        [
          `db = MagicMock()`,
          `cache = MagicMock()`,
          `bus = Mock()`,
          `sync_${noun}(${n}, db=db, cache=cache, bus=bus)`,
          `assert db.write.called`,
          `assert bus.publish.called`,
        ],
        [`@patch("app.sync.metrics")`, `@patch("app.sync.lock")`],
        ['mock_lock', 'mock_metrics'],
      );
    case 'borderline_ok':
    case 'borderline_bad': {
      const fields = kind === 'borderline_ok' ? rng.int(16, 24) : rng.int(20, 28);
      const body = ['payload = {', `    "id": ${n},`];
      for (let f = 1; f <= fields; f++) body.push(`    "field${f}": "value-${f}",`);
      body.push('}');
      if (kind === 'borderline_ok') {
        body.push(`${noun} = map_${noun}(payload)`, `assert ${noun}.id == ${n}`);
        for (let f = 1; f <= Math.min(fields, 12); f++) body.push(`assert ${noun}.field${f} == "value-${f}"`);
        return def(`test_maps_every_${noun}_${n}_field`, body);
      }
      body.push(
        `created = create_${noun}(payload)`,
        `assert created.id == ${n}`,
        `updated = update_${noun}(created, field1="changed")`,
        `assert updated.field1 == "changed"`,
        `assert len(list_${noun}s()) == 1`,
        `delete_${noun}(created.id)`,
        `assert len(list_${noun}s()) == 0`,
        `with pytest.raises(NotFound):`,
        `    get_${noun}(created.id)`,
      );
      return def(`test_${noun}_${n}_create_update_delete`, body);
    }
    case 'flaky':
      return def(`test_discount_on_random_${noun}_${n}_amount`, [
        `amount = random.randint(1, 100)`,
        `${noun} = make_${noun}(amount=amount)`,
        `assert discount(${noun}) == amount * 0.9`,
      ]);
    case 'clock_ok':
      return def(`test_stamps_${noun}_${n}_creation_time`, [
        `before = time.time()`,
        `${noun} = make_${noun}(id=${n})`,
        `assert ${noun}.created_at >= before`,
      ]);
  }
}

const UNCLEAR_JS_NAMES = ['works', 'it works', 'test 1', 'should work'];
const UNCLEAR_PY_NAMES = ['test_1', 'test_it', 'test_works', 'test_2'];

interface FileSpec {
  relPath: string;
  language: 'typescript' | 'javascript' | 'python';
  kinds: Kind[];
}

function planFiles(): FileSpec[] {
  const rng = seededFor(SEED, 'plan');
  const specs: FileSpec[] = [];
  let i = 0;
  for (const [language, count] of Object.entries(FILES) as Array<[FileSpec['language'], number]>) {
    for (let k = 0; k < count; k++, i++) {
      const noun = NOUNS[i % NOUNS.length]!;
      const relPath =
        language === 'python'
          ? `api/tests/test_${noun}_${k + 1}.py`
          : `web/${language === 'typescript' ? 'src' : 'legacy'}/${noun}-${k + 1}.${language === 'typescript' ? 'spec.ts' : 'test.js'}`;
      specs.push({ relPath, language, kinds: [] });
    }
  }
  // 2 uncertain functions per file, 3 in some, 91 in all; 2-5 certain ones.
  const extra = new Set(
    rng.sample(
      specs.map((_, i) => i),
      UNCERTAIN_TOTAL - 2 * specs.length,
    ),
  );
  specs.forEach((spec, idx) => {
    const uncertain = extra.has(idx) ? 3 : 2;
    const kinds: Kind[] = [];
    for (let u = 0; u < uncertain; u++) kinds.push(UNCERTAIN_KINDS[(idx * 3 + u) % UNCERTAIN_KINDS.length]!);
    const certain = rng.int(2, 5);
    for (let c = 0; c < certain; c++) kinds.push(rng.pick(CERTAIN_KINDS));
    const ordered: Kind[] = rng.shuffle(kinds.filter((x) => x !== 'duplicate'));
    // A duplicate needs an earlier test of the same name: a clean one, first.
    if (kinds.includes('duplicate')) {
      if (!ordered.includes('clean')) ordered.unshift('clean');
      ordered.push(...kinds.filter((x) => x === 'duplicate').slice(0, 1));
    }
    spec.kinds = ordered;
  });
  return specs;
}

function renderFile(spec: FileSpec, index: number) {
  const rng = seededFor(SEED, 'file', spec.relPath);
  const noun = spec.relPath.match(
    /(cart|invoice|order|session|report|token|profile|ticket|payment|coupon)/,
  )![1]!;
  const N = cap(noun);
  const tests: Array<{ kind: Kind; built: Built }> = [];
  let firstClean: string | undefined;
  spec.kinds.forEach((kind, k) => {
    const n = index * 10 + k + 1;
    const py = spec.language === 'python';
    const inClass = py && index % 3 === 0;
    let name: string | undefined;
    if (kind === 'duplicate') name = firstClean;
    if (kind === 'unclear_name') name = rng.pick(py ? UNCLEAR_PY_NAMES : UNCLEAR_JS_NAMES);
    const built = py
      ? pyTest(kind, noun, n, rng, inClass, name)
      : jsTest(kind, noun, n, rng, spec.language === 'typescript', name);
    if (kind === 'clean' && firstClean === undefined) firstClean = built.name;
    tests.push({ kind, built });
  });
  // Unclear names may repeat in a file; make them unique so they are not duplicates too.
  const used = new Set<string>();
  for (const t of tests) {
    if (t.kind !== 'unclear_name') continue;
    const pool = spec.language === 'python' ? UNCLEAR_PY_NAMES : UNCLEAR_JS_NAMES;
    const free = pool.find((x) => !used.has(x)) ?? t.built.name;
    if (free !== t.built.name) {
      t.built.lines = t.built.lines.map((l) => l.replace(t.built.name, free));
      t.built.name = free;
    }
    used.add(free);
  }

  let text: string;
  const fullNames: string[] = [];
  if (spec.language === 'python') {
    const inClass = index % 3 === 0;
    const header = [
      `"""Tests of the ${noun} service."""`,
      'import random',
      'import time',
      'import unittest',
      'from unittest.mock import MagicMock, Mock, patch',
      '',
      'import pytest',
      '',
      `from app.${noun}s import *  # noqa: F403`,
      '',
      '',
      `def check_valid_${noun}(${noun}):`,
      `    assert ${noun}.id > 0`,
      `    assert ${noun}.errors == []`,
      '',
      '',
    ];
    const body: string[] = [];
    if (inClass) body.push(`class Test${N}:`);
    tests.forEach((t, k) => {
      if (k > 0) body.push('', ...(inClass ? [] : ['']));
      body.push(...t.built.lines);
      fullNames.push(inClass ? `Test${N}::${t.built.name}` : t.built.name);
    });
    text = [...header, ...body, ''].join('\n');
  } else {
    const ts = spec.language === 'typescript';
    const header = ts
      ? [
          `import { make${N}, total${N}, type ${N} } from '../../app/${noun}';`,
          `import * as ${noun}s from '../../app/${noun}';`,
          '',
          `function assertValid${N}(${noun}: ${N}): void {`,
          `  expect(${noun}.id).toBeGreaterThan(0);`,
          `  expect(${noun}.errors).toEqual([]);`,
          '}',
          '',
        ]
      : [
          `const { make${N}, total${N} } = require('../../app/${noun}');`,
          '',
          `function assertValid${N}(${noun}) {`,
          `  expect(${noun}.id).toBeGreaterThan(0);`,
          `  expect(${noun}.errors).toEqual([]);`,
          '}',
          '',
        ];
    const body = [`describe('${N}', () => {`];
    tests.forEach((t, k) => {
      if (k > 0) body.push('');
      body.push(...t.built.lines);
      fullNames.push(`${N} > ${t.built.name}`);
    });
    body.push('});');
    text = [...header, ...body, ''].join('\n');
  }
  const seen = new Map<string, number>();
  const planted = tests.map((t, k) => {
    const full = fullNames[k]!;
    const occurrence = seen.get(full) ?? 0;
    seen.set(full, occurrence + 1);
    return { id: functionIdOf(spec.relPath, full, occurrence), kind: t.kind };
  });
  return { text, planted };
}

function main(): void {
  fs.rmSync(OUT, { recursive: true, force: true });
  const specs = planFiles();
  const planted: Record<string, Kind> = {};
  const functions: Record<string, Omit<TestQualityAnswer, 'id'>> = {};
  specs.forEach((spec, index) => {
    const { text, planted: p } = renderFile(spec, index);
    const file = path.join(OUT, spec.relPath);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, text);
    for (const { id, kind } of p) {
      planted[id] = kind;
      if ((UNCERTAIN_KINDS as readonly string[]).includes(kind))
        functions[id] = VERDICTS[kind as (typeof UNCERTAIN_KINDS)[number]];
    }
  });
  const counts: Record<string, number> = {};
  for (const k of Object.values(planted)) counts[k] = (counts[k] ?? 0) + 1;
  const manifest = {
    files: specs.length,
    functions: Object.keys(planted).length,
    uncertain: Object.keys(functions).length,
    kinds: counts,
    expectedFindings: EXPECTED_FINDINGS,
    planted,
  };
  fs.writeFileSync(path.join(OUT, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
  fs.writeFileSync(path.join(OUT, 'truth.json'), JSON.stringify({ functions }, null, 2) + '\n');
  console.log(
    `wrote ${manifest.files} files, ${manifest.functions} test functions, ${manifest.uncertain} uncertain, to ${path.relative(process.cwd(), OUT)}`,
  );
}

if (require.main === module) main();
