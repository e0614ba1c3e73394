// The first and last steps every root workflow takes (the same commands in the same order, so
// saved histories replay): its progress and start time (resumed after continue-as-new), the
// `progress` query, the RUNNING search attribute; at the end its report and COMPLETED.
import { setHandler } from '@temporalio/workflow';
import { progressQuery, type RunProgress } from './progress';
import { markRunCompleted, markRunRunning, type PipelineName } from './search-attributes';

/** Where a root that continued as new picks up its start time and progress. */
export interface RootResume {
  startedAt: number;
  progress: RunProgress;
}

/** A root begins (or resumes): its start time (workflow time: deterministic) and its live progress. */
export function beginRoot(runId: string, pipeline: PipelineName, resume?: RootResume): RootResume {
  const startedAt = resume?.startedAt ?? Date.now();
  const progress: RunProgress = resume?.progress ?? {
    total: 0,
    done: 0,
    failed: 0,
    merchantsDone: 0,
    merchantsTotal: 0,
  };
  setHandler(progressQuery, () => progress);
  markRunRunning(runId, pipeline);
  return { startedAt, progress };
}

/** A root ends well: its report built from the store, the run marked COMPLETED. */
export async function completeRoot<R>(
  runId: string,
  startedAt: number,
  buildReport: (input: { runId: string; status: 'COMPLETED'; makespanMs: number }) => Promise<R>,
): Promise<R> {
  const report = await buildReport({ runId, status: 'COMPLETED', makespanMs: Date.now() - startedAt });
  markRunCompleted();
  return report;
}
