// Signals and queries of the embedding workflows (their names are part of the saved histories).
import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { BatchCheck } from '../../activities/embed';
import type { BatchOutcome } from '../../stores/embeddings';

export interface EmbedProgress {
  /** Items submitted so far (resubmissions included). */
  total: number;
  /** Items embedded. */
  done: number;
  /** Items given up on. */
  failed: number;
  released: number;
  batches: number;
  batchesDone: number;
  round: number;
  phase: 'submitting' | 'waiting' | 'compacting' | 'done';
  merchantsDone: number;
  merchantsTotal: number;
}

export interface PollProgress {
  batchKey: string;
  status: string;
  polls: number;
  runs: number;
  requestCounts: BatchCheck['requestCounts'];
}

export interface CompactionSummary {
  rounds: number;
  deltasApplied: number;
  records: number;
  deltasFailed: number;
  snapshots: number;
  runs: number;
  startedAt: number;
}

export const progressQuery = defineQuery<EmbedProgress>('progress');
/** Sent by a poll workflow to its backfill when its batch is settled. */
export const batchDoneSignal = defineSignal<[BatchOutcome]>('embeddingBatchDone');
/** Sent (with start) to the compactor whenever deltas are waiting. */
export const compactRequestedSignal = defineSignal<[{ reason?: string }?]>('compactRequested');
export const pollProgressQuery = defineQuery<PollProgress>('batchProgress');
export const compactionProgressQuery = defineQuery<CompactionSummary>('compactionProgress');
