// `npm run bench -- --scale [--json] [--receipts N]`: thousands of receipts across worker processes
// near the provider bound. Two `llm` worker processes and one `pipeline` worker process (separate OS
// processes, as a deployment runs them), a refusing provider (the emulator) with limit 16 and
// 800 ms calls, our cap equal to that limit; a growth table at 300 / 1,000 / N receipts; CPU seconds
// of every process from /proc, per 1,000 receipts of orchestration alone.
import os from 'node:os';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { loadConfig, type AppConfig } from '../src/config';
import type { EvaluationReport } from '../src/activities/evaluate';
import { writeDataset } from '../dev/seed';
import { generateDataset } from '../dev/generator/generator';
import { startEmulator, type EmulatorHandle } from '../dev/emulator/server';
import { GlobalLimiter } from '../src/llm/limiter';
import { createDynamoClient } from '../src/stores/clients';
import { ensureTable } from '../src/stores/provision';
import { freePortPair } from '../dev/harness/llm-layer';
import { spawnWorker, type WorkerProcess } from '../dev/harness/worker-process';
import { CpuMeter, peakRssMiB } from './proc-stats';
import {
  cpuMsPerCall,
  dynamoRequestsPerCall,
  limiterRequestsPerCall,
  meterRunCpu,
  dynamodbStoreNote,
  recordTable,
  servicePids,
  type DynamodbStore,
  type ServicePids,
} from './run-cpu';
import { evaluateLabels } from '../src/workflows';

export const SCALE = { providerLimit: 16, latencyMs: 800, jitterMs: 200, merchants: 12 } as const;

/**
 * CPU seconds per 1,000 receipts of orchestration alone before receipts ran inline in their batch (one
 * `evaluateReceipt` child workflow each): `npm run bench -- --scale --receipts 300` on commit bc6147a,
 * 2026-12-06, the same machine. Printed beside today's figures.
 */
export const CPU_PER_1000_BEFORE_INLINE: Readonly<Record<string, number>> = {
  'pipeline worker': 35.6,
  'temporal server': 80.5,
  dynalite: 7.3,
  total: 123.4,
};

export interface ScaleRow {
  receipts: number;
  makespanMs: number;
  /** LLM work at the provider's limit over the makespan (1 = the provider never idled). */
  efficiency: number;
  llmCalls: number;
  inFlightMax: number;
  refused: number;
  limiterDynamoRequestsPerCall: number;
  /** Largest history (events) of any workflow of the run. */
  maxHistoryEvents: number;
  /** The orchestration alone (--skip-llm-review) over the same receipts. */
  orchestrationMakespanMs: number;
  orchestrationReceiptsPerS: number;
  /** User+system CPU seconds per 1,000 receipts of orchestration alone, by process. */
  cpuPer1000: Record<string, number>;
  /** CPU milliseconds per LLM call of the whole LLM run (orchestration included), by process. */
  cpuMsPerCall: Record<string, number>;
  /** DynamoDB requests of the llm worker processes per LLM call, by client and command. */
  dynamoRequestsPerCall: Record<string, number>;
  peakRssMiB: Record<string, number>;
}

export interface BenchWorkers {
  llm: WorkerProcess[];
  pipeline: WorkerProcess;
  metricsPorts: number[];
}

const log = (s: string) => process.stderr.write(s + '\n');

/** The worker processes' environment: their own table and queues, the emulator, our cap. */
export function benchWorkerEnv(
  id: string,
  emulatorUrl: string,
  truthFile: string,
  cap: number = SCALE.providerLimit,
): Record<string, string> {
  return {
    DYNAMODB_TABLE: `scale-${id}`,
    TASK_QUEUE_PIPELINE: `scale-pipeline-${id}`,
    TASK_QUEUE_LLM: `scale-llm-${id}`,
    OLLAMA_HOST: emulatorUrl,
    TRUTH_FILE: truthFile,
    LLM_MAX_CONCURRENT_CALLS: String(cap),
    LOG_LEVEL: 'ERROR',
    NODE_NO_WARNINGS: '1',
  };
}

/** Two `llm` worker processes (each serving /metrics on a free port pair) and one `pipeline` one. */
export async function startBenchWorkers(env: Record<string, string>): Promise<BenchWorkers> {
  const first = await freePortPair();
  let second = await freePortPair();
  while (Math.abs(second - first) < 2) second = await freePortPair();
  const metricsPorts = [first, second];
  const llm = metricsPorts.map((port) => spawnWorker({ ...env, METRICS_PORT: String(port) }, ['llm']));
  const pipeline = spawnWorker(env, ['pipeline']);
  await Promise.all([...llm, pipeline].map((w) => w.ready));
  return { llm, pipeline, metricsPorts };
}

export async function stopBenchWorkers(w: BenchWorkers): Promise<void> {
  for (const p of [...w.llm, w.pipeline]) p.kill('SIGTERM');
  await Promise.all([...w.llm, w.pipeline].map((p) => p.exited));
}

/** The limiter's DynamoDB requests so far, summed over the `llm` workers' /metrics. */
export async function largestHistory(client: Client, runId: string): Promise<number> {
  let max = 0;
  const query = `WorkflowId = "${runId}" OR WorkflowId STARTS_WITH "${runId}/"`;
  for await (const wf of client.workflow.list({ query })) max = Math.max(max, wf.historyLength ?? 0);
  return max;
}

export async function runEvaluation(client: Client, cfg: AppConfig, runId: string, skipLlmReview: boolean) {
  return (await client.workflow.execute(evaluateLabels, {
    taskQueue: cfg.TASK_QUEUE_PIPELINE,
    workflowId: runId,
    args: [{ runId, llmTaskQueue: cfg.TASK_QUEUE_LLM, noCache: true, skipLlmReview }],
  })) as EvaluationReport;
}

/** A fresh table with `receipts` receipts over the bench's merchants, and the limiter's state reset to `cap`. */
export async function seedBenchTable(
  env: Record<string, string>,
  receipts: number,
  cap: number,
): Promise<AppConfig> {
  const cfg = loadConfig({ ...process.env, ...env });
  await ensureTable(cfg);
  await writeDataset(
    cfg,
    generateDataset({
      merchants: SCALE.merchants,
      receiptsPerMerchant: Math.ceil(receipts / SCALE.merchants),
      seed: 16,
    }),
  );
  await new GlobalLimiter(createDynamoClient(cfg), cfg.DYNAMODB_TABLE, {
    cap,
    leaseMs: cfg.LLM_PERMIT_LEASE_MS,
  }).resetState();
  return cfg;
}

/** One size of the growth table: seed, the LLM run, then the orchestration alone with CPU measured. */
async function scaleRow(
  client: Client,
  emulator: EmulatorHandle,
  receipts: number,
  truthFile: string,
  services: ServicePids,
): Promise<ScaleRow> {
  const id = `${Date.now().toString(36)}-${receipts}`;
  const env = benchWorkerEnv(id, emulator.url, truthFile);
  log(`  scale ${receipts}: seeding ...`);
  const cfg = await seedBenchTable(env, receipts, SCALE.providerLimit);
  const workers = await startBenchWorkers(env);
  try {
    emulator.reset();
    log(`  scale ${receipts}: LLM review ...`);
    const stopCpu = meterRunCpu(workers, services);
    const r = await runEvaluation(client, cfg, `scale-${id}`, false);
    const runCpu = stopCpu();
    const m = emulator.metrics();
    const calls = m.requests - m.rateLimited - m.errors - m.timeouts;
    const bound = (calls * SCALE.latencyMs) / SCALE.providerLimit;
    // Read now: the orchestration-alone run below must not count.
    const requestsPerCall = await dynamoRequestsPerCall(workers.metricsPorts, calls);
    const maxHistoryEvents = await largestHistory(client, `scale-${id}`);

    log(`  scale ${receipts}: orchestration alone ...`);
    const pids = {
      'pipeline worker': workers.pipeline.pid,
      'temporal server': services.temporal,
      dynalite: services.dynamodb,
    };
    const meter = new CpuMeter(pids).start();
    const o = await runEvaluation(client, cfg, `scale-o-${id}`, true);
    const cpu = meter.stop();
    log(`  scale ${receipts}: orchestration alone took ${o.makespanMs} ms`);
    const per1000 = Object.fromEntries(
      Object.entries(cpu).map(([k, v]) => [k, Math.round((v / o.succeeded) * 1000 * 10) / 10]),
    );
    per1000.total = Math.round(Object.values(per1000).reduce((a, b) => a + b, 0) * 10) / 10;
    const rss: Record<string, number> = { 'pipeline worker': peakRssMiB(workers.pipeline.pid) };
    workers.llm.forEach((w, i) => (rss[`llm worker ${i + 1}`] = peakRssMiB(w.pid)));
    return {
      receipts: r.total,
      makespanMs: r.makespanMs,
      efficiency: Math.round((bound / r.makespanMs) * 100) / 100,
      llmCalls: calls,
      inFlightMax: m.inFlightMax,
      refused: m.rateLimited,
      limiterDynamoRequestsPerCall: limiterRequestsPerCall(requestsPerCall),
      maxHistoryEvents,
      orchestrationMakespanMs: o.makespanMs,
      orchestrationReceiptsPerS: Math.round((o.succeeded / o.makespanMs) * 10_000) / 10,
      cpuPer1000: per1000,
      cpuMsPerCall: cpuMsPerCall(runCpu, calls),
      dynamoRequestsPerCall: requestsPerCall,
      peakRssMiB: rss,
    };
  } finally {
    log(`  scale ${receipts}: stopping the workers ...`);
    await stopBenchWorkers(workers);
  }
}

export interface ScaleSection {
  receipts: number;
  workers: { llm: number; pipeline: number };
  providerLimit: number;
  latencyMs: number;
  /** How the shared limit adapted (LLM_ADAPTIVE of the bench's environment: latency, refusal, off). */
  adaptive: string;
  /** Where dynalite kept its tables (`DynamodbStore`): its CPU per request depends on it. */
  dynamodbStore: DynamodbStore;
  efficiency: number;
  makespanMs: number;
  inFlightMax: number;
  refused: number;
  rows: ScaleRow[];
}

export async function scaleSection(client: Client, sizes: number[]): Promise<ScaleSection> {
  const truthFile = path.join(os.tmpdir(), `scale-truth-${Date.now().toString(36)}.json`);
  const emulator = await startEmulator({
    port: 0,
    maxConcurrency: SCALE.providerLimit,
    latencyMs: SCALE.latencyMs,
    jitterMs: SCALE.jitterMs,
    retryAfterS: 1,
    accuracy: 1,
    truthFile,
  });
  const services = await servicePids();
  const rows: ScaleRow[] = [];
  try {
    for (const size of sizes) rows.push(await scaleRow(client, emulator, size, truthFile, services));
  } finally {
    await emulator.close();
  }
  const last = rows.at(-1)!;
  return {
    receipts: last.receipts,
    workers: { llm: 2, pipeline: 1 },
    providerLimit: SCALE.providerLimit,
    latencyMs: SCALE.latencyMs,
    adaptive: loadConfig().LLM_ADAPTIVE,
    dynamodbStore: services.dynamodbStore,
    efficiency: last.efficiency,
    makespanMs: last.makespanMs,
    inFlightMax: last.inFlightMax,
    refused: last.refused,
    rows,
  };
}

/**
 * What a provider limit of `limit` would need, from the CPU per LLM call of the whole LLM run measured
 * here (orchestration and the LLM path together; the emulator's own CPU left out: a provider is not ours).
 */
export function sizingFor(s: ScaleSection, limit = 500): string {
  const last = s.rows.at(-1)!;
  const callsPerS = limit / (s.latencyMs / 1000);
  const cores = (name: string) => ((last.cpuMsPerCall[name] ?? 0) / 1000) * callsPerS;
  const f = (x: number) => x.toFixed(1);
  const workers = cores('pipeline worker') + cores('llm workers');
  return (
    `A provider limit of ${limit} with ${s.latencyMs} ms calls serves ${Math.round(callsPerS)} calls/s ` +
    `(${Math.round(callsPerS / (last.llmCalls / last.receipts))} receipts/s). At the CPU per call measured here that takes about ` +
    `${f(cores('temporal server'))} cores of Temporal server (a cluster: history and matching services, with a ` +
    `database that keeps up), ${f(cores('pipeline worker'))} cores of pipeline workers and ${f(cores('llm workers'))} of llm ` +
    `workers, and ${f(cores('dynalite'))} of DynamoDB emulation (real DynamoDB: capacity, not our cores): about ` +
    `${Math.ceil(workers / 1.5)} worker machines of 2 cores at 75% use, beside the cluster.`
  );
}

export function renderScaleSection(s: ScaleSection): string {
  const procs = Object.keys(s.rows[0]?.cpuPer1000 ?? {});
  const rssNames = Object.keys(s.rows[0]?.peakRssMiB ?? {});
  const growth = s.rows.map(
    (r) =>
      `| ${r.receipts} | ${(r.makespanMs / 1000).toFixed(1)} | ${(((r.makespanMs / r.receipts) * 1000) / 1000).toFixed(1)} | ${r.efficiency} | ${r.llmCalls} | ${r.inFlightMax} / ${s.providerLimit} | ${r.refused} | ${r.limiterDynamoRequestsPerCall} | ${r.maxHistoryEvents} | ${r.orchestrationReceiptsPerS} |`,
  );
  const cpu = s.rows.map((r) => `| ${r.receipts} | ${procs.map((p) => r.cpuPer1000[p]).join(' | ')} |`);
  const rss = s.rows.map((r) => `| ${r.receipts} | ${rssNames.map((p) => r.peakRssMiB[p]).join(' | ')} |`);
  const first = s.rows[0]!;
  const last = s.rows.at(-1)!;
  const perReceipt = (r: ScaleRow) => r.makespanMs / r.receipts;
  return `## Scale: ${s.receipts} receipts across worker processes (\`npm run bench -- --scale\`, ${new Date().toISOString().slice(0, 10)})

Two \`llm\` worker processes and one \`pipeline\` worker process (separate OS processes), the emulator refusing
above ${s.providerLimit} calls at once with ${s.latencyMs} ms ± ${SCALE.jitterMs} ms calls, our cap ${s.providerLimit} (\`LLM_ADAPTIVE=${s.adaptive}\`), ${SCALE.merchants} merchants,
one evaluation run per size (\`--no-cache\`), then the same receipts with \`--skip-llm-review\` (orchestration alone)
with CPU seconds read from /proc; ${dynamodbStoreNote(s.dynamodbStore)}. Efficiency = LLM calls x ${s.latencyMs} ms / ${s.providerLimit} over the makespan.

| receipts | makespan s | ms per receipt | efficiency | LLM calls | in flight max / limit | refused | limiter DynamoDB requests per call | largest history (events) | orchestration receipts/s |
|---|---|---|---|---|---|---|---|---|---|
${growth.join('\n')}

Makespan per receipt at ${last.receipts} is ${(perReceipt(last) / perReceipt(first)).toFixed(2)}x that at ${first.receipts}.

CPU seconds per 1,000 receipts, orchestration alone (user + system, from /proc); the last row is the same
measure before receipts ran inline in their batch (one child workflow each; commit bc6147a, \`--receipts 300\`):

| receipts | ${procs.join(' | ')} |
|---|${procs.map(() => '---').join('|')}|
${cpu.join('\n')}
| 300, receipts as child workflows (before) | ${procs.map((p) => CPU_PER_1000_BEFORE_INLINE[p] ?? '').join(' | ')} |

CPU milliseconds per LLM call over the whole LLM run at ${last.receipts} receipts (orchestration and the LLM path;
the emulator runs in the bench process), and the llm workers' DynamoDB requests per LLM call by command:

${recordTable(last.cpuMsPerCall)}

${recordTable(last.dynamoRequestsPerCall)}

Peak resident memory (MiB) of the worker processes:

| receipts | ${rssNames.join(' | ')} |
|---|${rssNames.map(() => '---').join('|')}|
${rss.join('\n')}

${sizingFor(s)}
`;
}
