// The harmonizer's skip rules on small and diverse groups (issue 14): a word is not an outlier merely
// because few words share its label at its merchant; measured offline on the demo's and the bench's data.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { harmonizerScores } from '../bench/harmonizer-text';
import { DEFAULT_SKIP_RULES, groupVerdicts } from '../src/domain/harmonization';

const rules = DEFAULT_SKIP_RULES;

void describe('group verdicts', () => {
  test('a small group never rules a word isolated: the LLM decides', () => {
    const tiny = [
      [0.1, 0.2],
      [0.2, 0.3],
      [0.1, 0.3],
    ];
    assert.deepEqual(groupVerdicts(tiny, rules), ['decide', 'decide', 'decide']);
  });

  test('in a group with a settled form, an unlike word is isolated without the LLM', () => {
    const settled = Array.from({ length: 11 }, () => Array(10).fill(0.95) as number[]);
    const verdicts = groupVerdicts([...settled, Array(10).fill(0.1) as number[]], rules);
    assert.deepEqual(verdicts.slice(-2), ['consistent', 'isolated']);
  });

  test('a diverse group (fewer than half consistent) withdraws isolation; share 0 restores it', () => {
    const diverse = [
      ...Array.from({ length: 4 }, () => Array(10).fill(0.95) as number[]),
      ...Array.from({ length: 6 }, () => Array(10).fill(0.3) as number[]),
    ];
    assert.ok(!groupVerdicts(diverse, rules).includes('isolated'));
    assert.equal(
      groupVerdicts(diverse, { ...rules, isolatedMinConsistentShare: 0 }).filter((v) => v === 'isolated')
        .length,
      6,
    );
  });
});

void describe('harmonizer precision and recall vs planted errors (perfect oracle, emulator embeddings)', () => {
  const datasets: Array<[string, Parameters<typeof harmonizerScores>[0]]> = [
    [
      "the demo's data (3 merchants x 20 receipts, seed 42)",
      { merchants: 3, receiptsPerMerchant: 20, seed: 42 },
    ],
    ['the large bench (5 x 60, seed 2026)', { merchants: 5, receiptsPerMerchant: 60, seed: 2026 }],
    ['small merchants (6 x 2, seed 3)', { merchants: 6, receiptsPerMerchant: 2, seed: 3 }],
  ];
  for (const [name, options] of datasets) {
    test(`${name}: precision >= 0.95, recall >= 0.9`, () => {
      const s = harmonizerScores(options);
      assert.ok(s.precision >= 0.95, `precision ${s.precision} (${JSON.stringify(s)})`);
      assert.ok(s.recall >= 0.9, `recall ${s.recall} (${JSON.stringify(s)})`);
    });
  }
});
