// What the process-fault scenarios share: a label evaluation started on a harness, awaited through
// a Temporal outage, and tallied item by item (succeeded / failed with a reason / lost) with the
// provider requests a clean run of the same data makes.
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import type { EvaluationReport } from '../src/activities/evaluate';
import { createStores } from '../src/deps';
import type { Harness } from '../dev/harness/pipeline';
import { startEvaluationFaultRun, tallyItems, within } from './fault-common';
import { evaluateLabels } from '../src/workflows';

export interface EvaluationStart {
  runId: string;
  reviewChunkSize: number;
  noCache?: boolean;
}

/** Starts a label evaluation of the harness's dataset (see startEvaluationFaultRun). */
export async function startEvaluation(h: Harness, run: EvaluationStart): Promise<WorkflowHandle> {
  return (await startEvaluationFaultRun(h, { workflow: evaluateLabels, ...run })).handle;
}

/**
 * The run's report, waiting through transient client errors (the Temporal server away) until
 * `deadlineMs`; a failed workflow or the deadline gives `runStatus` FAILED with the reason.
 */
export async function awaitEvaluation(
  handle: WorkflowHandle,
  deadlineMs: number,
): Promise<{ report?: EvaluationReport; runStatus: string }> {
  const until = Date.now() + deadlineMs;
  const outlast = async (): Promise<EvaluationReport> => {
    for (;;) {
      try {
        return (await handle.result()) as EvaluationReport;
      } catch (err) {
        if (err instanceof WorkflowFailedError || Date.now() > until) throw err;
        await new Promise((r) => setTimeout(r, 1000)); // the server is away: ask again
      }
    }
  };
  try {
    const report = await within(`evaluation ${handle.workflowId}`, outlast(), deadlineMs);
    return { report, runStatus: report.status };
  } catch (err) {
    return { runStatus: `FAILED: ${(err as Error).message.slice(0, 120)}` };
  }
}

export interface EvaluationTally {
  items: number;
  succeeded: number;
  failedWithReason: number;
  lost: number;
  /** Provider requests of a clean run: one per chunk of issues (accuracy 1: no repairs, no 429s). */
  cleanProviderRequests: number;
}

/** Every receipt of the harness's dataset against the run's stored results. */
export async function tallyEvaluation(
  h: Harness,
  runId: string,
  reviewChunkSize: number,
): Promise<EvaluationTally> {
  const results = await createStores(h.cfg).runs.listResults(runId);
  return {
    ...tallyItems(
      results,
      h.dataset!.receipts.map((r) => r.receiptId),
    ),
    cleanProviderRequests: results.reduce(
      (n, r) => n + Math.ceil(((r.detail as { issues?: number }).issues ?? 0) / reviewChunkSize),
      0,
    ),
  };
}

/** A row's fields from a tally and the emulator's counters. */
export function rowCounts(
  tally: EvaluationTally,
  emulator: { requests: number; inFlightMax: number },
  cap: number,
) {
  const { items, succeeded, failedWithReason, lost } = tally;
  return {
    items,
    succeeded,
    failedWithReason,
    lost,
    extraProviderRequests: Math.max(0, emulator.requests - tally.cleanProviderRequests),
    capHeld: emulator.inFlightMax <= cap,
  };
}
