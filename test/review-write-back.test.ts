// The review write-back (the seed's semantics), as label updates: VALID/INVALID set the status with
// the reviewer's reason, NEEDS_REVIEW changes nothing, VALID on a proposed label creates it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { labelUpdatesOf, type ReviewedWord } from '../src/activities/evaluate';
import type { LabelIssue } from '../src/domain/receipt';

const issue = (wordId: string, extra: Partial<LabelIssue> = {}): LabelIssue => ({
  wordId,
  text: 'X',
  label: 'ADDRESS_LINE',
  lineText: 'X',
  rules: ['UNVERIFIED_LABEL'],
  message: 'm',
  ...extra,
});
const review = (
  wordId: string,
  decision: ReviewedWord['decision'],
  suggestedLabel: string | null = null,
) => ({
  wordId,
  label: 'ADDRESS_LINE',
  decision,
  suggestedLabel,
  reason: `because ${decision}`,
});

test('VALID and INVALID write status and reason; NEEDS_REVIEW writes nothing; a confirmed proposal creates the label', () => {
  const updates = labelUpdatesOf({
    merchantId: 'm-1',
    issues: [
      issue('a'),
      issue('b'),
      issue('c'),
      issue('d', { unlabelled: true }),
      issue('e', { unlabelled: true }),
    ],
    reviews: [
      review('a', 'VALID'),
      review('b', 'INVALID', 'MERCHANT_NAME'),
      review('c', 'NEEDS_REVIEW'),
      review('d', 'VALID'),
      review('e', 'INVALID'),
    ],
  });
  assert.deepEqual(
    updates.map((u) => [
      u.wordId,
      u.validationStatus,
      u.suggestedLabel,
      u.reason,
      u.createLabel?.label ?? null,
    ]),
    [
      ['a', 'VALID', null, 'because VALID', null],
      ['b', 'INVALID', 'MERCHANT_NAME', 'because INVALID', null],
      ['d', 'VALID', null, 'because VALID', 'ADDRESS_LINE'],
    ],
  );
  assert.equal(updates[2]!.createLabel?.merchantId, 'm-1');
});

test("with applySuggested (the seed's write-back), INVALID with a suggestion replaces the label; without one it stays INVALID", () => {
  const updates = labelUpdatesOf({
    merchantId: 'm-1',
    applySuggested: true,
    issues: [issue('a'), issue('b'), issue('c')],
    reviews: [
      review('a', 'INVALID', 'MERCHANT_NAME'),
      review('b', 'INVALID'),
      review('c', 'INVALID', 'ADDRESS_LINE'),
    ],
  });
  assert.deepEqual(
    updates.map((u) => [u.wordId, u.validationStatus, u.replaceLabel ?? null]),
    [
      ['a', 'INVALID', { from: 'ADDRESS_LINE', to: 'MERCHANT_NAME', merchantId: 'm-1' }],
      ['b', 'INVALID', null],
      // A suggestion equal to the label itself is no replacement.
      ['c', 'INVALID', null],
    ],
  );
});
