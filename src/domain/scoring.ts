// Scores LLM review decisions against the planted label errors of a generated dataset.

export type ReviewDecision = 'VALID' | 'INVALID' | 'NEEDS_REVIEW';

export interface ScoredDecision {
  wordId: string;
  decision: ReviewDecision;
}

export interface DecisionScore {
  /** TP / (TP + FP); 1 when nothing was called INVALID (no false alarms were raised). */
  precision: number;
  /** TP / all planted; 1 when nothing was planted. */
  recall: number;
  truePositives: number;
  falsePositives: number;
  /** Planted words without an INVALID decision, including words never reviewed. */
  falseNegatives: number;
}

/**
 * A positive is an INVALID decision; ground-truth positives are the planted word ids.
 * NEEDS_REVIEW counts as a negative. When a word has several decisions the last one counts
 * (a retried chunk supersedes the earlier answer).
 */
export function scoreDecisions(
  decisions: readonly ScoredDecision[],
  planted: ReadonlySet<string>,
): DecisionScore {
  const last = new Map<string, ReviewDecision>();
  for (const d of decisions) last.set(d.wordId, d.decision);
  let truePositives = 0;
  let falsePositives = 0;
  for (const [wordId, decision] of last) {
    if (decision !== 'INVALID') continue;
    if (planted.has(wordId)) truePositives++;
    else falsePositives++;
  }
  const falseNegatives = planted.size - truePositives;
  const flagged = truePositives + falsePositives;
  return {
    precision: flagged === 0 ? 1 : truePositives / flagged,
    recall: planted.size === 0 ? 1 : truePositives / planted.size,
    truePositives,
    falsePositives,
    falseNegatives,
  };
}
