// The harmonizer's query and signal: progress in words (the CLI's bar), and a group announcing to
// the root how many words it has.
import { defineQuery, defineSignal } from '@temporalio/workflow';

/** Progress of a harmonizer run: `total`/`done`/`failed` count words (the CLI's bar). */
export interface HarmonizeProgress {
  total: number;
  done: number;
  failed: number;
  groupsDone: number;
  groupsTotal: number;
  /** Kept for the shared progress shape: merchants all of whose groups are done. */
  merchantsDone: number;
  merchantsTotal: number;
}

export const harmonizeProgressQuery = defineQuery<HarmonizeProgress>('progress');
/** Sent by a group to the root once it knows how many words it has. */
export const wordsPlannedSignal = defineSignal<[{ group: string; count: number }]>('wordsPlanned');
