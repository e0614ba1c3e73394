// What a bench run costs per LLM call: the CPU of every process (from /proc) and the DynamoDB
// requests of the llm worker processes (their /metrics), both stable where wall-clock times are not.
import fs from 'node:fs';
import { loadConfig } from '../src/config';
import { stackStatus } from '../dev/stack/stack';
import { CpuMeter } from './proc-stats';
import type { BenchWorkers } from './scale';

/** The stack's services a run's CPU is read from. */
export interface ServicePids {
  temporal?: number;
  dynamodb?: number;
  /** Where that dynalite keeps its tables: its CPU per request differs (`dynamodbStore`). */
  dynamodbStore: DynamodbStore;
}

/**
 * `memory` (the bench starts its stack so, as `npm test` does) or `disk` (LevelDB under `DATA_DIR`: a
 * stack already running that way is reused as it is). Dynalite stands in for DynamoDB, whose CPU is not
 * a deployment's, and LevelDB's grows with the tables: at 3,000 receipts it cost 46.6 CPU-ms per LLM
 * call against 25.3 in memory (docs/BENCHMARKS.md, scale).
 */
export type DynamodbStore = 'memory' | 'disk' | 'unknown';

/** The pids of the running stack's Temporal server and dynalite (`stack status`). */
export async function servicePids(): Promise<ServicePids> {
  const status = await stackStatus(loadConfig());
  const dynamodb = status.dynamodb?.pid ?? undefined;
  return { temporal: status.temporal?.pid ?? undefined, dynamodb, dynamodbStore: storeOf(dynamodb) };
}

/** Dynalite keeps its tables on disk when started with `--path` (dev/stack/services.ts). */
function storeOf(pid: number | undefined): DynamodbStore {
  if (!pid) return 'unknown';
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes('--path') ? 'disk' : 'memory';
  } catch {
    return 'unknown';
  }
}

/** The sentence a section states its DynamoDB emulation with. */
export function dynamodbStoreNote(store: DynamodbStore): string {
  if (store === 'memory') return 'dynalite (the DynamoDB emulation) keeps its tables in memory';
  if (store === 'disk') return 'dynalite (the DynamoDB emulation) keeps its tables in LevelDB on disk';
  return "dynalite's store unknown";
}

/**
 * Starts measuring a run: each worker process tree, the Temporal server, dynalite, and this process
 * alone (the emulator and the Temporal client; its children are the workers). Returns the stop.
 */
export function meterRunCpu(workers: BenchWorkers, services: ServicePids): () => Record<string, number> {
  const meter = new CpuMeter({
    'pipeline worker': workers.pipeline.pid,
    ...Object.fromEntries(workers.llm.map((w, i) => [`llm worker ${i + 1}`, w.pid])),
    'temporal server': services.temporal,
    dynalite: services.dynamodb,
  }).start();
  const own = process.cpuUsage();
  return () => {
    const cpu = meter.stop();
    const llm = workers.llm.reduce((s, _, i) => s + (cpu[`llm worker ${i + 1}`] ?? 0), 0);
    workers.llm.forEach((_, i) => delete cpu[`llm worker ${i + 1}`]);
    const bench = process.cpuUsage(own);
    return { ...cpu, 'llm workers': llm, 'bench (emulator, client)': (bench.user + bench.system) / 1e6 };
  };
}

/** CPU seconds by process as milliseconds per LLM call, with their total. */
export function cpuMsPerCall(cpu: Record<string, number>, calls: number): Record<string, number> {
  const ms = (s: number) => Math.round((s / Math.max(1, calls)) * 1000 * 10) / 10;
  const out = Object.fromEntries(Object.entries(cpu).map(([k, v]) => [k, ms(v)]));
  out.total = ms(Object.values(cpu).reduce((a, b) => a + b, 0));
  return out;
}

/** `llm_dynamodb_requests_total{client,command}` of the llm worker processes, per LLM call. */
export async function dynamoRequestsPerCall(ports: number[], calls: number): Promise<Record<string, number>> {
  const sums: Record<string, number> = {};
  for (const port of ports) {
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    for (const m of text.matchAll(/^llm_dynamodb_requests_total\{client="(\w+)",command="(\w+)"\} (\d+)/gm)) {
      const key = `${m[1]} ${m[2]!.replace(/Command$/, '')}`;
      sums[key] = (sums[key] ?? 0) + Number(m[3]);
    }
  }
  return Object.fromEntries(
    Object.entries(sums).map(([k, v]) => [k, Math.round((v / Math.max(1, calls)) * 100) / 100]),
  );
}

/** The limiter's share of `dynamoRequestsPerCall`. */
export function limiterRequestsPerCall(perCall: Record<string, number>): number {
  const sum = Object.entries(perCall).reduce((n, [k, v]) => (k.startsWith('limiter ') ? n + v : n), 0);
  return Math.round(sum * 10) / 10;
}

/** Two rows of a markdown table from a record (its keys the header). */
export function recordTable(r: Record<string, number>): string {
  const keys = Object.keys(r);
  return `| ${keys.join(' | ')} |\n|${keys.map(() => '---').join('|')}|\n| ${Object.values(r).join(' | ')} |`;
}
