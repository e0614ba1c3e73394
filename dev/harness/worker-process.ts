// Runs `src/worker.ts` as a real child process (for kill -9 / SIGTERM tests), with its output kept
// for failure messages, and makes sure no child outlives the test process.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import type { QueueName } from '../../src/worker';

export const REPO_ROOT = path.resolve(__dirname, '../..');

export interface WorkerExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface WorkerProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly queues: QueueName[];
  /** Everything the process wrote to stdout and stderr so far. */
  output(): string;
  /** Resolves once the worker logged that it polls its queues; rejects if it exits first. */
  ready: Promise<void>;
  /** Resolves when the process has exited. */
  exited: Promise<WorkerExit>;
  /** True until the process has exited. */
  alive(): boolean;
  /** Sends a signal (no-op once exited). */
  kill(signal: NodeJS.Signals): void;
}

/**
 * Env of a harness whose `pipeline` worker process a test kills: the workflows the dead worker had
 * cached move to a live worker after 2 s instead of the SDK's 10 s (each kill otherwise stalls them
 * 10 s on its sticky queue). The kill and the recovery are the same, only that wait is shorter.
 */
export const KILLED_PIPELINE_WORKER_ENV: Readonly<Record<string, string>> = {
  PIPELINE_STICKY_QUEUE_TIMEOUT_MS: '2000',
};

const living = new Set<WorkerProcess>();
let exitHookInstalled = false;

/** SIGKILLs every worker process this test process started that is still alive. */
export function killAllWorkerProcesses(): void {
  for (const w of living) w.kill('SIGKILL');
}

/**
 * Starts `node --import tsx src/worker.ts --queues <queues>` with the harness env on top of ours.
 * The test runner's own variables are dropped so the child is a plain worker process. `entry`
 * runs another worker script instead (one that logs `worker running:` when it polls, such as
 * dev/harness/llm-worker-crash-after-answer.ts), relative to the repository root.
 */
export function spawnWorker(
  harnessEnv: Record<string, string>,
  queues: QueueName[],
  entry = 'src/worker.ts',
): WorkerProcess {
  if (!exitHookInstalled) {
    // Last resort if the test process dies without running `after` hooks.
    process.once('exit', killAllWorkerProcesses);
    exitHookInstalled = true;
  }
  const env: NodeJS.ProcessEnv = { ...process.env, ...harnessEnv };
  delete env.NODE_TEST_CONTEXT;
  const child = spawn(process.execPath, ['--import', 'tsx', entry, '--queues', queues.join(',')], {
    cwd: REPO_ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (child.pid === undefined) throw new Error(`could not spawn a worker process for ${queues.join(',')}`);
  let out = '';
  let exitInfo: WorkerExit | undefined;
  const exited = new Promise<WorkerExit>((resolve) => {
    child.once('exit', (code, signal) => {
      exitInfo = { code, signal };
      living.delete(handle);
      resolve(exitInfo);
    });
  });
  const ready = new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('worker running:')) resolve();
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (chunk: Buffer) => (out += chunk.toString()));
    void exited.then((e) =>
      reject(
        new Error(`worker ${queues.join(',')} exited (${JSON.stringify(e)}) before it was ready:\n${out}`),
      ),
    );
  });
  ready.catch(() => undefined); // observed by whoever awaits it; never an unhandled rejection
  const handle: WorkerProcess = {
    child,
    pid: child.pid,
    queues,
    output: () => out,
    ready,
    exited,
    alive: () => exitInfo === undefined,
    kill(signal) {
      if (exitInfo === undefined) child.kill(signal);
    },
  };
  living.add(handle);
  return handle;
}

/** Waits for the process to exit, or gives up after `ms` (then returns undefined). */
export async function waitForExit(w: WorkerProcess, ms: number): Promise<WorkerExit | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), ms)));
  try {
    return await Promise.race([w.exited, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
