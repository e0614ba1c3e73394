// Helpers of the LLM-layer tests: label evaluations on a harness, `llm` worker child processes,
// free ports for their metrics, and a raw view of the shared limiter's slots in DynamoDB.
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { QueryCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { EvaluationReport } from '../../src/activities/evaluate';
import { evaluateLabels, type EvaluateLabelsInput } from '../../src/workflows/evaluate';
import { startRoot, type Harness } from './pipeline';

const REPO_ROOT = path.resolve(__dirname, '../..');

/** Starts a label evaluation on the harness's queues (a fresh run id). */
export function startEvaluation(h: Harness, input: Omit<EvaluateLabelsInput, 'runId' | 'llmTaskQueue'> = {}) {
  return startRoot(h, evaluateLabels, 'llm-', input);
}

/** Runs a label evaluation on the harness's queues to its report. */
export async function runEvaluation(
  h: Harness,
  input: Omit<EvaluateLabelsInput, 'runId' | 'llmTaskQueue'> = {},
): Promise<EvaluationReport> {
  return (await startEvaluation(h, input)).result();
}

/** `ms` as seconds with one decimal, for diagnostics. */
export const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

export interface LlmWorkerProcess {
  child: ChildProcess;
  pid: number;
  /** Resolves once the worker logged that it runs; rejects if it exits first. */
  ready: Promise<void>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  output(): string;
  alive(): boolean;
}

/**
 * Starts `node --import tsx src/worker.ts --queues llm` as its own process, with `env` over ours
 * (the harness env, LLM_MAX_CONCURRENT_CALLS, ...). The caller kills it (SIGKILL in `after`).
 */
export function spawnLlmWorker(env: Record<string, string>): LlmWorkerProcess {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
  delete childEnv.NODE_TEST_CONTEXT; // a plain process, not a test-runner child
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/worker.ts', '--queues', 'llm'], {
    cwd: REPO_ROOT,
    env: childEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (child.pid === undefined) throw new Error('could not spawn an llm worker process');
  let out = '';
  let done = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => {
      done = true;
      resolve({ code, signal });
    }),
  );
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('worker running:')) resolve();
    });
    child.stderr!.on('data', (chunk: Buffer) => (out += chunk.toString()));
    void exited.then((e) =>
      reject(new Error(`llm worker exited (${JSON.stringify(e)}) before ready:\n${out}`)),
    );
  });
  ready.catch(() => undefined);
  return { child, pid: child.pid, ready, exited, output: () => out, alive: () => !done };
}

/** SIGKILLs the process (if alive) and waits for it to be gone. */
export async function killWorker(w: LlmWorkerProcess | undefined): Promise<void> {
  if (!w || !w.alive()) return;
  w.child.kill('SIGKILL');
  await w.exited;
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/** A port p with p and p+1 free: a worker serves our metrics on p and Temporal's on p+1. */
export async function freePortPair(): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const p = 20_000 + Math.floor(Math.random() * 40_000);
    if ((await portFree(p)) && (await portFree(p + 1))) return p;
  }
  throw new Error('no two adjacent free ports found');
}

/** Sums the Prometheus counters named `name` (over all label sets) on a worker's /metrics. */
export async function scrapeCounter(port: number, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    const m = /^([a-z_]+)(\{[^}]*\})? ([0-9.e+-]+)$/.exec(line);
    if (m && m[1] === name) sum += Number(m[3]);
  }
  return sum;
}

export interface SlotItem {
  slot: number;
  holder: string;
  acquiredAt: number;
  leaseUntil: number;
}

/** Every permit slot item of limiter `name` as stored (expired leases included). */
export async function readSlots(
  ddb: DynamoDBDocumentClient,
  table: string,
  name = 'llm',
): Promise<SlotItem[]> {
  const r = await ddb.send(
    new QueryCommand({
      TableName: table,
      KeyConditionExpression: 'PK = :pk AND begins_with(SK, :s)',
      ExpressionAttributeValues: { ':pk': `LIMITER#${name}`, ':s': 'SLOT#' },
      ConsistentRead: true,
    }),
  );
  return (r.Items ?? []).map((i) => ({
    slot: Number(i.slot),
    holder: String(i.holder),
    acquiredAt: Number(i.acquiredAt),
    leaseUntil: Number(i.leaseUntil),
  }));
}

/** The pid inside a permit holder id (`host:pid:random:seq`). */
export function holderPid(holder: string): number {
  return Number(holder.split(':').at(-3));
}

/** Polls `check` every `everyMs` until it returns a value (not undefined), or throws after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined>,
  timeoutMs = 60_000,
  everyMs = 50,
): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
