// Test harness for pipelines: the shared real stack (Temporal, dynalite, ...), plus per test an
// own DynamoDB table, own task queues, an own in-process emulator with its truth, real workers.
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { bundleWorkflowCode, type WorkerOptions } from '@temporalio/worker';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { loadConfig, type AppConfig } from '../../src/config';
import { generateDataset, type Dataset, type GenerateOptions } from '../generator/generator';
import { startEmulator, type EmulatorHandle, type StartEmulatorOptions } from '../emulator/server';
import { writeDataset } from '../seed';
import { ensureTable } from '../../src/stores/provision';
import { connectClient } from '../../src/temporal';
import { startWorkers, type QueueName, type RunningWorkers } from '../../src/worker';
import { ensureStack } from './stack';

type WorkflowBundle = NonNullable<WorkerOptions['workflowBundle']>;
let bundle: Promise<WorkflowBundle> | undefined;

/**
 * One workflow bundle per test process (bundling takes seconds of CPU): the prebuilt one of this
 * `npm test` run (WORKFLOW_BUNDLE_PATH, made by scripts/test.sh) when there is one, else bundled here.
 */
export function workflowBundle(): Promise<WorkflowBundle> {
  const prebuilt = process.env.WORKFLOW_BUNDLE_PATH;
  bundle ??= prebuilt
    ? Promise.resolve({ codePath: prebuilt })
    : bundleWorkflowCode({ workflowsPath: require.resolve('../../src/workflows'), logger: quietLogger });
  return bundle;
}

const noop = () => undefined;
const quietLogger = { trace: noop, debug: noop, info: noop, warn: noop, error: console.error, log: noop };

export interface HarnessOptions {
  emulator?: StartEmulatorOptions;
  env?: Record<string, string>;
  dataset?: GenerateOptions;
  /** Which workers to run in this process. @default ['pipeline', 'llm'] */
  queues?: QueueName[];
}

export interface Harness {
  id: string;
  cfg: AppConfig;
  env: Record<string, string>;
  client: Client;
  emulator: EmulatorHandle;
  dataset?: Dataset;
  workers?: RunningWorkers;
  close(): Promise<void>;
}

/** A TCP port free on loopback right now (the OS picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

export function uniqueId(prefix = 't'): string {
  return `${prefix}${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
}

export async function startHarness(opts: HarnessOptions = {}): Promise<Harness> {
  await ensureStack();
  const id = uniqueId();
  const truthFile = path.join(os.tmpdir(), `truth-${id}.json`);
  const emulator = await startEmulator({ port: 0, latencyMs: 20, jitterMs: 5, truthFile, ...opts.emulator });
  const env: Record<string, string> = {
    DYNAMODB_TABLE: `test-${id}`,
    TASK_QUEUE_PIPELINE: `pipeline-${id}`,
    TASK_QUEUE_LLM: `llm-${id}`,
    OLLAMA_HOST: emulator.url,
    TRUTH_FILE: truthFile,
    LLM_PERMIT_LEASE_MS: '10000',
    ...opts.env,
  };
  const cfg = loadConfig({ ...process.env, ...env });
  await ensureTable(cfg);
  let dataset: Dataset | undefined;
  if (opts.dataset) {
    dataset = generateDataset(opts.dataset);
    await writeDataset(cfg, dataset);
  }
  const queues = opts.queues ?? ['pipeline', 'llm'];
  const workers = queues.length
    ? await startWorkers(cfg, { queues, workflowBundle: await workflowBundle() })
    : undefined;
  const client = await connectClient(cfg);
  return {
    id,
    cfg,
    env,
    client,
    emulator,
    dataset,
    workers,
    async close() {
      await workers?.shutdown();
      await client.connection.close();
      await emulator.close();
    },
  };
}

/** A pipeline's root workflow: its one input, which carries the run id and the `llm` queue. */
type RootWorkflow = (input: { runId?: string; llmTaskQueue?: string }) => Promise<unknown>;

/**
 * Starts a root run of `workflow` on the harness's queues: a fresh run id (`prefix`) as its
 * workflow id, the harness's `llm` queue, then `input`.
 */
export function startRoot<W extends RootWorkflow>(
  h: Harness,
  workflow: W,
  prefix: string,
  input: Omit<Parameters<W>[0], 'runId' | 'llmTaskQueue'>,
): Promise<WorkflowHandle<W>> {
  const runId = uniqueId(prefix);
  const args = [{ runId, llmTaskQueue: h.cfg.TASK_QUEUE_LLM, ...input }] as Parameters<W>;
  return h.client.workflow.start(workflow, { taskQueue: h.cfg.TASK_QUEUE_PIPELINE, workflowId: runId, args });
}
