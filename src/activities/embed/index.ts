// Pipeline-queue activities of the embedding pipeline (seed 003), one file per step: submit a batch
// idempotently (submit*.ts), check it (poll.ts), turn its results into an S3 delta and item statuses
// (process-results.ts) or release its items (release.ts), apply deltas to Chroma (compaction.ts),
// export snapshots (snapshot.ts), repair what an outage left (repair.ts), report (report.ts).
import type { EmbeddingDeps } from './deps';
import { createCompactionActivities } from './compaction';
import { createPollActivities } from './poll';
import { createProcessResultsActivities } from './process-results';
import { createReleaseActivities } from './release';
import { createEmbedRedriveActivities } from './redrive-plan';
import { createEmbedRepairActivities } from './repair';
import { createReportActivities } from './report';
import { createEmbedSettingsActivities } from './settings';
import { createSnapshotActivities } from './snapshot';
import { createSubmitActivities } from './submit';

/** Every activity of the embedding pipeline (activity names are the keys). */
export function createEmbedActivities(deps: EmbeddingDeps) {
  const release = createReleaseActivities(deps);
  return {
    ...createEmbedSettingsActivities(deps),
    ...createSubmitActivities(deps),
    ...createPollActivities(deps),
    ...createProcessResultsActivities(deps),
    ...release,
    ...createCompactionActivities(deps),
    ...createSnapshotActivities(deps),
    ...createReportActivities(deps),
    ...createEmbedRepairActivities(deps, release.releaseEmbeddingBatch),
    ...createEmbedRedriveActivities(deps),
  };
}

export type { EmbeddingDeps, VectorIndex } from './deps';
export type { BatchCheck } from './poll';
export type { SubmitEmbeddingBatchInput, SubmitEmbeddingBatchResult } from './submit';
export type { ReleaseEmbeddingBatchInput } from './release';
export { embeddingCounts, type EmbeddingCounts, type EmbeddingReport } from './report';
export { embedSettingsFromConfig } from './settings';
export { chromaRecordOf } from './chroma-record';
