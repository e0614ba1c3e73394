// Starting pipeline runs, waiting on them with a progress bar, and printing their reports.
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { WorkflowExecutionAlreadyStartedError, type Workflow } from '@temporalio/common';
import type { AppConfig } from '../config';
import { createStores } from '../deps';
import { PipelineKey, RunIdKey } from '../workflows/shared';
import type { RunProgress } from '../workflows/shared/progress';
import { UsageError } from './args';
import { ProgressBar } from './progress';
import { usableId } from './args';

export function newRunId(pipeline: string): string {
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '');
  return `${pipeline}-${stamp}-${Math.random().toString(36).slice(2, 6)}`;
}

export interface StartRunOptions<A> {
  pipeline: string;
  /** The root workflow function (imported from src/workflows; its name is the workflow type). */
  workflow: Workflow;
  args: A;
  runId?: string;
}

export async function startRun<A>(cfg: AppConfig, client: Client, opts: StartRunOptions<A>): Promise<string> {
  // A run id given by the user (--run-id) becomes a workflow id and DynamoDB/S3 keys: validated first.
  const runId = opts.runId === undefined ? newRunId(opts.pipeline) : usableId('run id', opts.runId);
  try {
    await startWorkflow(cfg, client, opts, runId);
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError)
      throw new UsageError(
        `Run id ${runId} is already used: a run id names one run; choose another --run-id`,
      );
    throw err;
  }
  return runId;
}

async function startWorkflow<A>(cfg: AppConfig, client: Client, opts: StartRunOptions<A>, runId: string) {
  await client.workflow.start(opts.workflow, {
    taskQueue: cfg.TASK_QUEUE_PIPELINE,
    workflowId: runId,
    // A run id is never reused, even after its run ended: its records belong to that run.
    workflowIdReusePolicy: 'REJECT_DUPLICATE',
    args: [{ ...opts.args, runId, llmTaskQueue: cfg.TASK_QUEUE_LLM }],
    typedSearchAttributes: [
      { key: RunIdKey, value: runId },
      { key: PipelineKey, value: opts.pipeline },
    ],
    memo: { pipeline: opts.pipeline },
  });
}

/** Waits for a run to finish, polling its progress query for the bar. */
export async function waitForRun<R>(client: Client, runId: string, showProgress = true): Promise<R> {
  const handle = client.workflow.getHandle(runId);
  const bar = new ProgressBar();
  let finished = false;
  const poll = (async () => {
    while (!finished && showProgress) {
      try {
        const p = await handle.query<RunProgress>('progress');
        bar.update(p.done, p.failed, p.total, `${runId} `);
      } catch {
        // not started yet or already closed
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  })();
  try {
    return (await handle.result()) as R;
  } finally {
    finished = true;
    await poll;
    bar.finish();
  }
}

/** The status and report of a run: from Temporal while it runs, from DynamoDB once done. */
export async function runReport(
  cfg: AppConfig,
  client: Client,
  runId: string,
): Promise<Record<string, unknown>> {
  usableId('run id', runId);
  const { runs } = createStores(cfg);
  const meta = await runs.getRun(runId);
  let temporalStatus: string | undefined;
  let progress: RunProgress | undefined;
  try {
    const handle = client.workflow.getHandle(runId);
    temporalStatus = (await handle.describe()).status.name;
    if (temporalStatus === 'RUNNING') progress = await handle.query<RunProgress>('progress');
  } catch (err) {
    if (!(err instanceof WorkflowNotFoundError)) throw err;
  }
  if (!meta && !temporalStatus) throw new Error(`No run ${runId}: neither Temporal nor DynamoDB knows it`);
  return {
    runId,
    status: temporalStatus ?? meta?.status,
    ...(meta?.redriveOf ? { redriveOf: meta.redriveOf } : {}),
    ...(meta?.redrivenBy?.length ? { redrivenBy: meta.redrivenBy } : {}),
    ...(progress ? { progress } : {}),
    ...(meta?.report ?? {}),
  };
}
