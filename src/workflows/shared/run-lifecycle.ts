// The lifecycle every root workflow shares: its run id and input checked before anything is
// recorded, RUNNING while it works, and a failure recorded on the run before it propagates.
import {
  CancellationScope,
  ContinueAsNew,
  isCancellation,
  patched,
  upsertSearchAttributes,
} from '@temporalio/workflow';
import { checkRunId } from '../root-inputs';
import { RunStatusKey } from './search-attributes';

type FailRun = (input: { runId: string; status: 'FAILED' | 'CANCELLED'; reason: string }) => Promise<void>;

export function errorMessage(err: unknown): string {
  let e = err as { message?: string; cause?: unknown } | undefined;
  const parts: string[] = [];
  while (e && parts.length < 4) {
    if (e.message) parts.push(e.message);
    e = e.cause as typeof e;
  }
  return parts.join(': ') || String(err);
}

/**
 * Runs a root workflow's body. When it fails (bad input, an activity out of retries, cancelled), the
 * run record is marked FAILED (or CANCELLED) with the reason before the failure propagates, so
 * `report` never shows a dead run as RUNNING. Histories from before this existed keep replaying.
 */
export async function recordingRunFailure<T>(
  failRun: (input: { runId: string; status: 'FAILED' | 'CANCELLED'; reason: string }) => Promise<void>,
  runId: string,
  body: () => Promise<T>,
): Promise<T> {
  try {
    return await body();
  } catch (err) {
    if (err instanceof ContinueAsNew || !patched('record-run-failure')) throw err;
    const status = isCancellation(err) ? 'CANCELLED' : 'FAILED';
    await CancellationScope.nonCancellable(() => failRun({ runId, status, reason: errorMessage(err) }));
    upsertSearchAttributes([{ key: RunStatusKey, value: status }]);
    throw err;
  }
}

export interface RootRun<R> {
  /** The run id: the input's, or the workflow id. */
  runId: string;
  workflowType: string;
  /** Records the run FAILED or CANCELLED (an activity). */
  failRun: FailRun;
  /** Throws InvalidInput naming the field (non-retryable). */
  checkInput: () => void;
  body: () => Promise<R>;
}

/**
 * A root workflow's body inside the shared lifecycle: the run id checked first (a bad one fails
 * before anything is written under it), then the input, then the body; a failure is recorded on
 * the run. The command sequence is the one each root wrote out before, so histories replay.
 */
export async function rootRun<R>({ runId, workflowType, failRun, checkInput, body }: RootRun<R>): Promise<R> {
  checkRunId(runId, workflowType);
  return recordingRunFailure(failRun, runId, async () => {
    checkInput();
    return body();
  });
}
