// The `progress` query every root workflow answers (and its children, for their own part): the CLI's
// progress bar and `runs` read it.
import { defineQuery } from '@temporalio/workflow';

export interface RunProgress {
  total: number;
  done: number;
  failed: number;
  merchantsDone: number;
  merchantsTotal: number;
}

export const progressQuery = defineQuery<RunProgress>('progress');
