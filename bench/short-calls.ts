// `npm run bench -- --short-calls [--json]`: can the pipeline feed a provider whose calls are short?
// A refusing provider (the emulator) that allows 4 calls at once with 200 ms calls, our cap 16
// (adaptive), 240 receipts over 12 merchants, two `llm` worker processes and one `pipeline` worker
// process as in --scale. At 4 / 200 ms the provider serves 20 calls/s, so the orchestration has to
// start and finish about 11 receipts/s: when it costs too much CPU per receipt the provider idles.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import type { SeriesPoint } from '../dev/emulator/metrics';
import { startEmulator } from '../dev/emulator/server';
import {
  cpuMsPerCall,
  dynamoRequestsPerCall,
  limiterRequestsPerCall,
  meterRunCpu,
  dynamodbStoreNote,
  recordTable,
  servicePids,
  type DynamodbStore,
} from './run-cpu';
import {
  SCALE,
  benchWorkerEnv,
  runEvaluation,
  seedBenchTable,
  startBenchWorkers,
  stopBenchWorkers,
  type BenchWorkers,
} from './scale';

export const SHORT_CALLS = { providerLimit: 4, latencyMs: 200, jitterMs: 0, cap: 16, receipts: 240 } as const;

export interface ShortCallsSection {
  receipts: number;
  receiptsOk: number;
  providerLimit: number;
  latencyMs: number;
  cap: number;
  llmCalls: number;
  /** LLM calls x latency / provider limit: the least makespan the provider allows. */
  boundMs: number;
  makespanMs: number;
  /** boundMs / makespanMs (1 = the provider never idled). */
  efficiency: number;
  inFlightMax: number;
  refused: number;
  /** Share of the LLM phase (first call to last answer) with the provider at its limit. */
  atLimitShare: number;
  /** Longest stretch of the LLM phase with no call in flight. */
  longestIdleMs: number;
  limiterDynamoRequestsPerCall: number;
  /** 1-minute load average of the machine when the run started and ended (wall-clock context). */
  loadAverage: { start: number; end: number };
  /** CPU milliseconds (user + system, from /proc) per LLM call, by process: stable where times are not. */
  cpuMsPerCall: Record<string, number>;
  /** DynamoDB requests of the llm worker processes per LLM call, by client and command. */
  dynamoRequestsPerCall: Record<string, number>;
  /** Where dynalite kept its tables (`DynamodbStore`). */
  dynamodbStore: DynamodbStore;
}

const log = (s: string) => process.stderr.write(s + '\n');
const round2 = (x: number) => Math.round(x * 100) / 100;

/** From the emulator's in-flight series: time at the limit and the longest idle gap, within the LLM phase. */
export function providerUse(series: readonly SeriesPoint[], limit: number) {
  const first = series.findIndex((p) => p.inFlight > 0);
  let last = series.length - 1;
  while (last > 0 && series[last]!.inFlight === 0) last--;
  if (first < 0 || last <= first) return { atLimitShare: 0, longestIdleMs: 0 };
  let atLimit = 0;
  let idleSince: number | undefined;
  let longestIdleMs = 0;
  for (let i = first; i < last; i++) {
    const p = series[i]!;
    const width = series[i + 1]!.t - p.t;
    if (p.inFlight >= limit) atLimit += width;
    if (p.inFlight === 0) idleSince ??= p.t;
    else if (idleSince !== undefined) {
      longestIdleMs = Math.max(longestIdleMs, p.t - idleSince);
      idleSince = undefined;
    }
  }
  return { atLimitShare: round2(atLimit / (series[last]!.t - series[first]!.t)), longestIdleMs };
}

export async function shortCallsSection(client: Client): Promise<ShortCallsSection> {
  const c = SHORT_CALLS;
  const id = `${Date.now().toString(36)}-short`;
  const truthFile = path.join(os.tmpdir(), `short-calls-truth-${id}.json`);
  const emulator = await startEmulator({
    port: 0,
    maxConcurrency: c.providerLimit,
    latencyMs: c.latencyMs,
    jitterMs: c.jitterMs,
    retryAfterS: 1,
    accuracy: 1,
    truthFile,
  });
  try {
    const env = benchWorkerEnv(id, emulator.url, truthFile, c.cap);
    log(`  short calls: seeding ${c.receipts} receipts ...`);
    const cfg = await seedBenchTable(env, c.receipts, c.cap);
    const workers = await startBenchWorkers(env);
    try {
      emulator.reset();
      const services = await servicePids();
      const stopCpu = meterRunCpu(workers, services);
      const loadStart = os.loadavg()[0]!;
      log(`  short calls: LLM review (load average ${loadStart.toFixed(2)}) ...`);
      const r = await runEvaluation(client, cfg, `short-${id}`, false);
      const loadEnd = os.loadavg()[0]!;
      const cpu = stopCpu();
      const m = emulator.metrics();
      const calls = m.requests - m.rateLimited - m.errors - m.timeouts;
      const boundMs = (calls * c.latencyMs) / c.providerLimit;
      const cpuPerCall = cpuMsPerCall(cpu, calls);
      const requestsPerCall = await dynamoRequestsPerCall(workers.metricsPorts, calls);
      saveDebugOutput(m.series, workers);
      return {
        receipts: r.total,
        receiptsOk: r.succeeded,
        providerLimit: c.providerLimit,
        latencyMs: c.latencyMs,
        cap: c.cap,
        llmCalls: calls,
        boundMs,
        makespanMs: r.makespanMs,
        efficiency: round2(boundMs / r.makespanMs),
        inFlightMax: m.inFlightMax,
        refused: m.rateLimited,
        ...providerUse(m.series, c.providerLimit),
        limiterDynamoRequestsPerCall: limiterRequestsPerCall(requestsPerCall),
        loadAverage: { start: round2(loadStart), end: round2(loadEnd) },
        cpuMsPerCall: cpuPerCall,
        dynamoRequestsPerCall: requestsPerCall,
        dynamodbStore: services.dynamodbStore,
      };
    } finally {
      await stopBenchWorkers(workers);
    }
  } finally {
    await emulator.close();
  }
}

/**
 * BENCH_DEBUG_DIR set: the provider's in-flight series and each worker's output (with
 * LLM_LIMITER_TRACE=1, every limiter decision) are written there, to study a run.
 */
function saveDebugOutput(series: readonly SeriesPoint[], workers: BenchWorkers): void {
  const dir = process.env.BENCH_DEBUG_DIR;
  if (!dir) return;
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'series.json'), JSON.stringify(series));
  for (const [i, w] of [...workers.llm, workers.pipeline].entries())
    fs.writeFileSync(path.join(dir, `worker-${i}-${w.queues.join('-')}.log`), w.output());
}

export function renderShortCallsSection(s: ShortCallsSection): string {
  return `## Short calls: a provider limit of ${s.providerLimit} at ${s.latencyMs} ms a call (\`npm run bench -- --short-calls\`, ${new Date().toISOString().slice(0, 10)})

The emulator refusing above ${s.providerLimit} calls at once with ${s.latencyMs} ms calls, our cap ${s.cap} (adaptive), ${s.receipts} receipts over
${SCALE.merchants} merchants (\`--no-cache\`), two \`llm\` worker processes and one \`pipeline\` worker process. The provider serves
${(s.providerLimit / (s.latencyMs / 1000)).toFixed(0)} calls/s, so the orchestration must keep up with that many calls' receipts. Efficiency = LLM calls x
${s.latencyMs} ms / ${s.providerLimit} over the makespan; ${dynamodbStoreNote(s.dynamodbStore)}. Wall-clock figures on a shared
machine: the 1-minute load average is given beside them.

| receipts ok | LLM calls | bound s | makespan s | efficiency | provider at its limit | longest idle s | in flight max / limit | refused | limiter DynamoDB requests per call | load average start / end |
|---|---|---|---|---|---|---|---|---|---|---|
| ${s.receiptsOk}/${s.receipts} | ${s.llmCalls} | ${(s.boundMs / 1000).toFixed(1)} | ${(s.makespanMs / 1000).toFixed(1)} | ${s.efficiency} | ${Math.round(s.atLimitShare * 100)}% | ${(s.longestIdleMs / 1000).toFixed(1)} | ${s.inFlightMax} / ${s.providerLimit} | ${s.refused} | ${s.limiterDynamoRequestsPerCall} | ${s.loadAverage.start} / ${s.loadAverage.end} |

Where the CPU goes, per LLM call (user + system ms from /proc, the whole run; the emulator runs in the bench process),
and the llm workers' DynamoDB requests per LLM call by command:

${recordTable(s.cpuMsPerCall)}

${recordTable(s.dynamoRequestsPerCall)}
`;
}
