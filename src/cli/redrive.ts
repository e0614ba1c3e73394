// `redrive <runId>`: a new run, linked to an ended one, over exactly its items that did not succeed.
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { Workflow } from '@temporalio/common';
import type { AppConfig } from '../config';
import { createStores } from '../deps';
import { idRuleBroken } from '../domain/ids';
import { UsageError } from './args';
import { newRunId, startRun } from './runs';
import { analyzeTestSuite, embedBackfill, enrichPlaces, evaluateLabels, harmonizeLabels } from '../workflows';

/** Pipelines whose runs can be redriven, and the root workflow each one starts. */
const REDRIVE_WORKFLOWS: Readonly<Record<string, Workflow>> = {
  evaluate: evaluateLabels,
  enrich: enrichPlaces,
  analyze: analyzeTestSuite,
  harmonize: harmonizeLabels,
  embed: embedBackfill,
};

/** Input fields of the old run that the redrive must not inherit (its selection is the plan). */
const NOT_INHERITED = ['runId', 'llmTaskQueue', 'merchantIds', 'placeIds', 'resume', 'carry', 'redriveOf'];

export function checkRunIdArg(what: string, runId: string): void {
  const problem = idRuleBroken(runId);
  if (problem) throw new UsageError(`${what} ${problem}`);
}

/** Temporal's status of a workflow id, or undefined when Temporal does not know it. */
async function temporalStatus(client: Client, workflowId: string): Promise<string | undefined> {
  try {
    return (await client.workflow.getHandle(workflowId).describe()).status.name;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return undefined;
    throw err;
  }
}

/** Starts the redrive of `oldRunId`; refuses a run that cannot be redriven or a run id in use. */
export async function startRedrive(
  cfg: AppConfig,
  client: Client,
  opts: { oldRunId: string; runId?: string },
): Promise<{ runId: string; pipeline: string }> {
  checkRunIdArg('the run id to redrive', opts.oldRunId);
  if (opts.runId !== undefined) checkRunIdArg('--run-id', opts.runId);
  const { runs } = createStores(cfg);
  const old = await runs.getRun(opts.oldRunId);
  if (!old)
    throw new UsageError(
      `No run ${opts.oldRunId}: no run record has that id (see: npm run cli -- report <runId>)`,
    );
  const workflow = REDRIVE_WORKFLOWS[old.pipeline];
  if (!workflow)
    throw new UsageError(
      `Run ${opts.oldRunId} is a ${old.pipeline} run; redrive supports ${Object.keys(REDRIVE_WORKFLOWS).join(', ')} runs`,
    );
  const oldStatus = (await temporalStatus(client, opts.oldRunId)) ?? old.status;
  if (oldStatus === 'RUNNING')
    throw new UsageError(
      `Run ${opts.oldRunId} is still RUNNING: wait for it to end (or cancel it), then redrive`,
    );
  const runId = opts.runId ?? newRunId(old.pipeline);
  const inUse = (await runs.getRun(runId))?.status ?? (await temporalStatus(client, runId));
  if (inUse)
    throw new UsageError(
      `Run id ${runId} is already used (${inUse}): a redrive starts a new run; choose another --run-id`,
    );
  const inherited = Object.fromEntries(
    Object.entries(old.params ?? {}).filter(([k]) => !NOT_INHERITED.includes(k)),
  );
  await startRun(cfg, client, {
    pipeline: old.pipeline,
    workflow,
    args: { ...inherited, redriveOf: opts.oldRunId },
    runId,
  });
  return { runId, pipeline: old.pipeline };
}
