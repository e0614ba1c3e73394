// The evaluation's last step per receipt: the review's decisions applied to the word labels and the
// receipt's result written exactly once.
import type { Label } from '../../domain/labels';
import type { LabelUpdate } from '../../stores/receipts';
import type { EvaluationDeps, ReviewedWord, SaveReviewResultsInput } from './types';

export function createEvaluateSaveActivities({ receipts, runs }: Pick<EvaluationDeps, 'receipts' | 'runs'>) {
  return {
    /** Applies decisions to the word labels and writes the receipt's result exactly once. */
    async saveReviewResults(input: SaveReviewResultsInput): Promise<{ written: boolean }> {
      const updates = updatesOf(input);
      if (input.labelsAfterResult) {
        // The result first, its label updates in it: a retry after a crash between the two finds
        // the result and applies the same updates again (each is conditional, so at most once).
        const written = await runs.putResult(resultOf(input, updates));
        await receipts.applyLabelUpdates(input.runId, updates);
        return { written };
      }
      await receipts.applyLabelUpdates(input.runId, updates);
      return { written: await runs.putResult(resultOf(input)) };
    },
  };
}

function updatesOf(input: SaveReviewResultsInput): LabelUpdate[] {
  const unlabelled = new Set(input.unlabelledWordIds ?? []);
  return labelUpdatesOf({ ...input, unlabelled, applySuggested: input.applySuggestedLabels ?? false });
}

/** The receipt's result item; with `labelUpdates`, the updates it applies (kept for a retry). */
function resultOf(input: SaveReviewResultsInput, labelUpdates?: LabelUpdate[]) {
  const failed = input.failedChunks.length > 0;
  return {
    runId: input.runId,
    itemId: input.receiptId,
    status: failed ? ('FAILED' as const) : ('SUCCEEDED' as const),
    ...(failed
      ? { reason: input.failedChunks.map((c) => `chunk ${c.chunkIndex}: ${c.reason}`).join('; ') }
      : {}),
    detail: {
      merchantId: input.merchantId,
      issues: input.issues?.length ?? input.issueCount ?? 0,
      reviews: input.reviews.map((r) => ({ wordId: r.wordId, label: r.label, decision: r.decision })),
      skippedLlmReview: input.skippedLlmReview,
      failedChunks: input.failedChunks.length,
      ...(labelUpdates ? { labelUpdates } : {}),
    },
    attempt: 1,
    at: Date.now(),
  };
}

/**
 * The review write-back (the seed's semantics): VALID sets the label's status with the reviewer's
 * reason; INVALID with a suggested label replaces the label by it, VALID and proposed by the
 * reviewer, the old one kept as a past label marked INVALID (with `applySuggested`; else INVALID is
 * only written as the status, with the suggestion beside it); NEEDS_REVIEW changes nothing (the
 * result item records it); VALID on an unlabelled word whose line neighbours proposed a label
 * creates it (the review's `label` is the one proposed).
 */
export function labelUpdatesOf(input: {
  reviews: ReviewedWord[];
  merchantId: string;
  /** Word ids of issues on unlabelled words; else taken from `issues`. */
  unlabelled?: ReadonlySet<string>;
  issues?: Array<{ wordId: string; label: string; unlabelled?: boolean }>;
  /** INVALID with a suggested label replaces the label. @default false */
  applySuggested?: boolean;
}): LabelUpdate[] {
  // The label proposed for an unlabelled word: the issue's, or the review's (which echoes it).
  const proposed = new Map<string, string | undefined>(
    input.issues
      ? input.issues.filter((i) => i.unlabelled).map((i) => [i.wordId, i.label])
      : [...(input.unlabelled ?? [])].map((id) => [id, undefined]),
  );
  const updates: LabelUpdate[] = [];
  for (const r of input.reviews) {
    if (r.decision === 'NEEDS_REVIEW') continue;
    const update: LabelUpdate = {
      wordId: r.wordId,
      validationStatus: r.decision,
      reason: r.reason,
      source: 'llm-review',
      suggestedLabel: (r.suggestedLabel as LabelUpdate['suggestedLabel']) ?? null,
    };
    if (proposed.has(r.wordId)) {
      // An unlabelled word rejected for the proposed label stays unlabelled.
      if (r.decision === 'VALID')
        updates.push({
          ...update,
          createLabel: {
            label: (proposed.get(r.wordId) ?? r.label) as NonNullable<LabelUpdate['createLabel']>['label'],
            merchantId: input.merchantId,
          },
        });
      continue;
    }
    const suggested = update.suggestedLabel;
    if (input.applySuggested && r.decision === 'INVALID' && suggested && suggested !== r.label) {
      updates.push({
        ...update,
        replaceLabel: { from: r.label as Label, to: suggested, merchantId: input.merchantId },
      });
      continue;
    }
    updates.push(update);
  }
  return updates;
}
