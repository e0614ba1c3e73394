// Precision and recall of INVALID decisions against planted errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { scoreDecisions, type DecisionScore, type ScoredDecision } from '../../src/domain/scoring';

const d = (wordId: string, decision: ScoredDecision['decision']): ScoredDecision => ({ wordId, decision });

const cases: Array<{
  name: string;
  decisions: ScoredDecision[];
  planted: string[];
  expected: DecisionScore;
}> = [
  {
    name: 'all planted found, one false alarm',
    decisions: [d('a', 'INVALID'), d('b', 'INVALID'), d('c', 'INVALID'), d('x', 'VALID')],
    planted: ['a', 'b'],
    expected: { precision: 2 / 3, recall: 1, truePositives: 2, falsePositives: 1, falseNegatives: 0 },
  },
  {
    name: 'NEEDS_REVIEW and VALID are negatives; unreviewed planted words are misses',
    decisions: [d('a', 'INVALID'), d('b', 'NEEDS_REVIEW'), d('c', 'VALID')],
    planted: ['a', 'b', 'c', 'never-reviewed'],
    expected: { precision: 1, recall: 1 / 4, truePositives: 1, falsePositives: 0, falseNegatives: 3 },
  },
  {
    name: 'nothing called INVALID: precision 1 by convention, recall 0',
    decisions: [d('a', 'VALID')],
    planted: ['a'],
    expected: { precision: 1, recall: 0, truePositives: 0, falsePositives: 0, falseNegatives: 1 },
  },
  {
    name: 'nothing planted: recall 1, every INVALID a false positive',
    decisions: [d('a', 'INVALID'), d('b', 'VALID')],
    planted: [],
    expected: { precision: 0, recall: 1, truePositives: 0, falsePositives: 1, falseNegatives: 0 },
  },
  {
    name: 'the last decision on a word counts',
    decisions: [d('a', 'VALID'), d('a', 'INVALID'), d('b', 'INVALID'), d('b', 'VALID')],
    planted: ['a', 'b'],
    expected: { precision: 1, recall: 0.5, truePositives: 1, falsePositives: 0, falseNegatives: 1 },
  },
];
for (const c of cases) {
  void test(c.name, () => assert.deepEqual(scoreDecisions(c.decisions, new Set(c.planted)), c.expected));
}
