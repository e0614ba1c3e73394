// Unit tests of the harmonizer's pure parts: skip rules, embedded text, batching, cache key, exact
// neighbours, Chroma records, report figures, CLI flags.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { harmonizeReportOf } from '../src/activities/harmonize';
import { parseArgs, UsageError } from '../src/cli/args';
import { harmonizeReportLines, harmonizeSpec } from '../src/cli/harmonize';
import { loadConfig } from '../src/config';
import { wordEmbeddingText } from '../src/domain/embedding-text';
import {
  DEFAULT_SKIP_RULES,
  applySkipRuleDefaults,
  decisionBatches,
  exactNeighbours,
  exactNeighboursYielding,
  harmonizeArtifactKey,
  skipRuleProblems,
  skipVerdict,
} from '../src/domain/harmonization';
import { embedText } from '../dev/emulator/embeddings';
import type { CallRecord } from '../src/llm/accounting';
import { sameDocument, sameMetadata, sameRecord, wordChromaRecord } from '../src/stores/chroma';
import { DECISION_KEY_VERSION, decisionKey } from '../src/stores/outlier-decisions';
import type { ItemResult } from '../src/stores/runs';
import type { HarmonizeLabelsInput } from '../src/workflows/harmonize';

const rules = DEFAULT_SKIP_RULES; // similarity 0.8, consistentNeighbours 10, isolatedSimilarity 0.4

describe('skip rules', () => {
  const cases: Array<[string, number[], ReturnType<typeof skipVerdict>]> = [
    ['10 similar neighbours: consistent', Array(10).fill(0.9), 'consistent'],
    ['exactly the threshold counts as similar', Array(10).fill(0.8), 'consistent'],
    ['9 similar neighbours: the LLM decides', [...Array(9).fill(0.95), 0.79], 'decide'],
    ['nearest below the isolation threshold: outlier', [0.39, 0.2, 0.1], 'isolated'],
    ['nearest exactly at the isolation threshold: the LLM decides', [0.4, 0.1], 'decide'],
    ['one similar neighbour: the LLM decides', [0.85], 'decide'],
    ['alone in its group: the LLM decides (nothing to be unlike)', [], 'decide'],
    ['order does not matter', [0.1, 0.2, 0.5, 0.3], 'decide'],
  ];
  for (const [name, similarities, expected] of cases)
    test(name, () => assert.equal(skipVerdict(similarities, rules), expected));

  test('the seed rules are the defaults and thresholds are configurable', () => {
    assert.deepEqual(DEFAULT_SKIP_RULES, {
      similarity: 0.8,
      consistentNeighbours: 10,
      isolatedSimilarity: 0.4,
      isolatedMinConsistentShare: 0.5,
    });
    const strict = applySkipRuleDefaults({ consistentNeighbours: 3, similarity: 0.95 });
    assert.equal(skipVerdict([0.96, 0.97, 0.99], strict), 'consistent');
    assert.equal(skipVerdict([0.9, 0.9, 0.9], strict), 'decide');
    assert.equal(strict.isolatedSimilarity, 0.4);
  });

  test('invalid rules are named', () => {
    assert.deepEqual(skipRuleProblems(rules), []);
    const problems = skipRuleProblems({
      similarity: 1.5,
      consistentNeighbours: 0,
      isolatedSimilarity: -0.1,
      isolatedMinConsistentShare: 0.5,
    });
    assert.equal(problems.length, 3, problems.join('\n'));
    assert.match(problems.join('\n'), /similarity must be within \[0, 1\]/);
    assert.match(problems.join('\n'), /consistentNeighbours must be an integer >= 1/);
    assert.match(
      skipRuleProblems({ ...rules, isolatedSimilarity: 0.9 }).join(),
      /must not exceed similarity/,
    );
  });
});

describe('the text a word is embedded as', () => {
  const cases: Array<[string, string, string | undefined, number | undefined, string]> = [
    ['the word between its neighbours', '4.43', 'BAGEL CREAM CHEESE 4.43', 3, 'CHEESE <4.43>'],
    [
      'a unit price differs from a line total of the same amount',
      '4.43',
      '3 @ 4.43 13.29',
      2,
      '@ <4.43> 13.29',
    ],
    ['first word of a line', "ROSA'S", "ROSA'S FIELD TEA HOUSE", 0, "<ROSA'S> FIELD"],
    ['no line known', 'TOTAL', undefined, undefined, '<TOTAL>'],
    [
      'a wrong index falls back to the first occurrence',
      'TEA',
      "ROSA'S FIELD TEA HOUSE",
      0,
      'FIELD <TEA> HOUSE',
    ],
    ['a word not in its line is embedded alone', 'X', 'A B C', 1, '<X>'],
  ];
  for (const [name, text, line, index, expected] of cases)
    test(name, () => assert.equal(wordEmbeddingText(text, line, index), expected));

  test('a word in context is nearer to the same role than the bare amount is', () => {
    const dim = 256;
    const cos = (a: string, b: string) => {
      const x = embedText(a, dim);
      const y = embedText(b, dim);
      return x.reduce((s, v, i) => s + v * y[i]!, 0);
    };
    // Two unit prices vs a unit price and a line total of the same amount.
    const unit = wordEmbeddingText('4.43', '3 @ 4.43 13.29', 2);
    const otherUnit = wordEmbeddingText('2.13', '4 @ 2.13 8.52', 2);
    const lineTotal = wordEmbeddingText('4.43', 'BAGEL CREAM CHEESE 4.43', 3);
    assert.ok(cos(unit, otherUnit) > cos('4.43', '2.13'), 'context brings the same role closer');
    assert.ok(cos(unit, lineTotal) < 1, 'the same amount in another role is not identical');
  });
});

describe('decision batches', () => {
  test('identical words are decided once, the rest cut into batches of N in order', () => {
    const items = ['a', 'b', 'a', 'c', 'd', 'b', 'e'].map((key, i) => ({ key, i }));
    const batches = decisionBatches(items, 2);
    assert.deepEqual(
      batches.map((b) => b.map((x) => x.i)),
      [[0, 1], [3, 4], [6]],
    );
  });
  test('empty input gives no batch; a bad size is refused', () => {
    assert.deepEqual(decisionBatches([], 10), []);
    assert.throws(() => decisionBatches([{ key: 'a' }], 0), RangeError);
  });
});

describe('decision cache key', () => {
  test('stable, hex, and different for merchant, label or word in context', () => {
    const k = decisionKey('m-0001', 'UNIT_PRICE', '@ <4.43> 13.29');
    assert.match(k, /^[0-9a-f]{64}$/);
    assert.equal(k, decisionKey('m-0001', 'UNIT_PRICE', '@ <4.43> 13.29'));
    const others = [
      decisionKey('m-0002', 'UNIT_PRICE', '@ <4.43> 13.29'),
      decisionKey('m-0001', 'LINE_TOTAL', '@ <4.43> 13.29'),
      decisionKey('m-0001', 'UNIT_PRICE', 'CHEESE <4.43>'),
    ];
    assert.equal(new Set([k, ...others]).size, 4);
    assert.equal(DECISION_KEY_VERSION, 1);
  });
});

describe('exact neighbours', () => {
  const cos = (a: number[], b: number[]) => {
    const dot = a.reduce((s, v, i) => s + v * b[i]!, 0);
    return dot / Math.sqrt(a.reduce((s, v) => s + v * v, 0) * b.reduce((s, v) => s + v * v, 0));
  };
  test('matches brute force, nearest first, k at most, itself excluded', () => {
    const texts = ['TOTAL 12.00', 'TOTAL 13.50', 'SUBTOTAL 11.00', 'VISA', 'VISA', 'CASH', 'MILK 3.49'];
    const vectors = texts.map((t) => Array.from(embedText(t, 64)));
    const hits = exactNeighbours(vectors, 3);
    hits.forEach((row, i) => {
      assert.equal(row.length, 3);
      assert.ok(row.every((h) => h.index !== i));
      const expected = vectors
        .map((v, j) => ({ j, s: cos(vectors[i]!, v) }))
        .filter((x) => x.j !== i)
        .sort((a, b) => b.s - a.s || a.j - b.j)
        .slice(0, 3);
      assert.deepEqual(
        row.map((h) => h.index),
        expected.map((e) => e.j),
      );
      row.forEach((h, n) => assert.ok(Math.abs(h.similarity - expected[n]!.s) < 1e-9));
    });
    // Identical words are each other's nearest, at similarity 1.
    assert.equal(hits[3]![0]!.index, 4);
    assert.ok(Math.abs(hits[3]![0]!.similarity - 1) < 1e-9);
  });
  test('ties go to the lower index; unnormalized vectors are normalized; odd input refused', () => {
    const hits = exactNeighbours(
      [
        [1, 0],
        [2, 0],
        [3, 0],
        [0, 1],
      ],
      2,
    );
    assert.deepEqual(
      hits[0]!.map((h) => h.index),
      [1, 2],
    );
    assert.deepEqual(
      hits[3]!.map((h) => h.index),
      [0, 1],
    );
    assert.deepEqual(exactNeighbours([], 5), []);
    assert.deepEqual(exactNeighbours([[1, 2]], 5), [[]]);
    assert.throws(() => exactNeighbours([[1, 2], [1]], 1), RangeError);
  });
  test('the yielding version gives the same result and lets other callbacks run between slices', async () => {
    const vectors = Array.from({ length: 60 }, (_, i) => Array.from(embedText(`WORD ${i % 17} ${i}`, 32)));
    // A callback queued before the call runs before it ends only if the loop is given back between
    // slices (a slice of 0 ms yields after every row); the synchronous loop would run it after.
    let done = false;
    let ranBefore = 0;
    setImmediate(() => {
      if (!done) ranBefore++;
    });
    const sliced = await exactNeighboursYielding(vectors, 5, 0);
    done = true;
    assert.deepEqual(sliced, exactNeighbours(vectors, 5));
    assert.equal(ranBefore, 1, 'the queued callback ran while the neighbours were computed');
    await assert.rejects(exactNeighboursYielding([[1, 2], [1]], 1), RangeError);
  });
});

describe("a word's Chroma record", () => {
  const source = {
    wordId: 'm-0001-r-00001#L005#W002',
    receiptId: 'm-0001-r-00001',
    merchantId: 'm-0001',
    text: '4.43',
    lineText: '3 @ 4.43 13.29',
    wordIndex: 2,
    label: 'UNIT_PRICE',
    validationStatus: 'PENDING',
  };
  test('id = word id, document = the embedded text, metadata for the where filter', () => {
    assert.deepEqual(wordChromaRecord(source), {
      id: source.wordId,
      document: '@ <4.43> 13.29',
      metadata: {
        merchantId: 'm-0001',
        receiptId: 'm-0001-r-00001',
        label: 'UNIT_PRICE',
        validationStatus: 'PENDING',
        text: '4.43',
      },
    });
    const unlabelled = wordChromaRecord({ ...source, label: undefined, validationStatus: undefined });
    assert.equal(unlabelled.metadata.label, 'NONE');
    assert.equal(unlabelled.metadata.validationStatus, 'NONE');
  });
  test('what changed decides between re-embedding and a metadata update', () => {
    const wanted = wordChromaRecord(source);
    const stored = { ...wanted, metadata: { ...wanted.metadata, validationStatus: 'VALID', extra: 1 } };
    assert.equal(sameRecord(wanted, wanted), true);
    assert.equal(sameDocument(stored, wanted), true);
    assert.equal(sameMetadata(stored, wanted), false);
    assert.equal(sameDocument(undefined, wanted), false);
    assert.equal(sameDocument({ ...wanted, document: '<4.43>' }, wanted), false);
  });
});

describe('report figures', () => {
  const result = (
    itemId: string,
    rule: string,
    outlier: boolean,
    status: 'SUCCEEDED' | 'FAILED' = 'SUCCEEDED',
  ) =>
    ({
      runId: 'r',
      itemId,
      status,
      detail: { merchantId: 'm', label: 'TAX', rule, ...(status === 'SUCCEEDED' ? { outlier } : {}) },
      ...(status === 'FAILED' ? { reason: 'LLM batch 0 failed: invalid' } : {}),
      attempt: 1,
      at: 0,
    }) as ItemResult;
  const call = (task: string, status: CallRecord['status']) =>
    ({
      task,
      status,
      providerRequests: status === 'cache_hit' ? 0 : 1,
      latencyMs: 10,
      promptTokens: 1,
      completionTokens: 1,
      costUsd: 0,
    }) as CallRecord;

  test('words by rule, outliers, calls per 1,000 words, failures', () => {
    const results = [
      result('w1', 'consistent', false),
      result('w2', 'consistent', false),
      result('w3', 'isolated', true),
      result('w4', 'llm', true),
      result('w5', 'shared', true),
      result('w6', 'cached', false),
      result('w7', 'llm', false, 'FAILED'),
      {
        runId: 'r',
        itemId: 'group:m/TAX',
        status: 'FAILED',
        reason: 'boom',
        detail: {},
        attempt: 1,
        at: 0,
      } as ItemResult,
    ];
    const calls = [call('label_outlier', 'ok'), call('label_outlier', 'cache_hit'), call('embed', 'ok')];
    const r = harmonizeReportOf(
      { runId: 'r', status: 'COMPLETED', makespanMs: 5, groups: 1, failedBatches: 1 },
      results,
      calls,
    );
    assert.equal(r.words, 7);
    assert.equal(r.total, 8);
    assert.equal(r.succeeded, 6);
    assert.equal(r.failed, 2);
    assert.equal(r.outliers, 3);
    assert.deepEqual(r.skipped, {
      consistentByNeighbours: 2,
      outlierNoNeighbours: 1,
      cached: 1,
      sameTextInRun: 1,
    });
    assert.equal(r.llmDecided, 1);
    assert.deepEqual(r.llmCalls, { outlierDecisions: 1, embeddings: 1 });
    assert.equal(r.callsPer1000Words, Math.round((1000 / 7) * 1000) / 1000);
    assert.deepEqual(r.failures.map((f) => f.itemId).sort(), ['group:m/TAX', 'w7']);
    assert.equal(r.llm.cacheHits, 1);
    assert.match(
      harmonizeReportLines(r as unknown as Record<string, unknown>).join('\n'),
      /1 decision calls/,
    );
  });
});

describe('harmonize CLI flags', () => {
  const cfg = loadConfig({});
  const spec = (argv: string[]) =>
    harmonizeSpec(cfg, parseArgs(argv, ['json', 'wait', 'no-cache'])).input as HarmonizeLabelsInput;
  test('defaults come from config; flags override them', () => {
    const d = spec([]);
    assert.equal(d.batchSize, 10);
    assert.deepEqual(d.rules, DEFAULT_SKIP_RULES);
    assert.equal(d.labelTypes, undefined);
    const s = spec([
      '--label-types',
      'grand_total,TAX',
      '--merchants',
      'm-0001',
      '--merchant',
      'm-0002',
      '--batch-size',
      '20',
      '--similarity',
      '0.9',
      '--no-cache',
    ]);
    assert.deepEqual(s.labelTypes, ['GRAND_TOTAL', 'TAX']);
    assert.deepEqual(s.merchantIds, ['m-0001', 'm-0002']);
    assert.equal(s.batchSize, 20);
    assert.equal(s.rules?.similarity, 0.9);
    assert.equal(s.noCache, true);
  });
  test('bad flags are usage errors naming the problem', () => {
    assert.throws(
      () => spec(['--label-types', 'BANANA']),
      (e: Error) => e instanceof UsageError && /BANANA/.test(e.message),
    );
    assert.throws(() => spec(['--similarity', '0.3']), /must not exceed similarity/);
    assert.throws(() => spec(['--batch-size', '0']), UsageError);
    assert.throws(() => spec(['--frobnicate', '1']), /unknown flag --frobnicate/);
    // An unknown flag is named as unknown even where it looks like one that takes a value.
    assert.throws(() => spec(['--frobnicate', '--json']), /unknown flag --frobnicate/);
    assert.throws(() => spec(['--batch-size', '--json']), /--batch-size needs a value/);
  });
});

test('hand-off files live under one prefix per run and group', () => {
  assert.equal(
    harmonizeArtifactKey({ runId: 'run-1', merchantId: 'm-0001', label: 'TAX' }, 'plan.json'),
    'harmonize/run-1/m-0001/TAX/plan.json',
  );
});
