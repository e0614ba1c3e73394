// What a harmonizer group reports when it is done (pure and workflow-safe: the group workflow
// returns an empty one for a group without words, the save activity fills one in).

export interface GroupSummary {
  merchantId: string;
  label: string;
  words: number;
  succeeded: number;
  failed: number;
  outliers: number;
  consistent: number;
  isolated: number;
  cached: number;
  llm: number;
  shared: number;
  batches: number;
  failedBatches: number;
  verdictsChanged: number;
}

/** A group's summary with every count at zero. */
export function emptyGroupSummary(merchantId: string, label: string): GroupSummary {
  return {
    merchantId,
    label,
    words: 0,
    succeeded: 0,
    failed: 0,
    outliers: 0,
    consistent: 0,
    isolated: 0,
    cached: 0,
    llm: 0,
    shared: 0,
    batches: 0,
    failedBatches: 0,
    verdictsChanged: 0,
  };
}
