// Fault scenarios on the real stack: a pipeline runs with one service (dynalite, s3rver, Chroma)
// behind our fault proxy (dev/stack/fault-proxy.ts), a fault is injected mid-run, and the run is
// accounted for: items total / succeeded / failed with a reason / lost, provider requests beyond a
// clean run, the LLM cap held. Used by test/faults.test.ts and by `npm run bench -- --faults`.
import fs from 'node:fs';
import { ensureStack } from '../dev/harness/stack';
import type { FaultRow, FaultScenario, ScenarioContext } from './fault-common';
import { pipelineWorkerKilledAfterBatchCreate } from './fault-batch-submit';
import { chromaDownMidCompaction } from './fault-compaction';
import { chromaDownMidHarmonization } from './fault-harmonization';
import { s3DownMidEmbedding } from './fault-embedding';
import { dynamoThrottlingDuringEvaluation } from './fault-evaluation';
import { temporalKilledAndRestarted } from './fault-temporal';
import { llmWorkerKilledAfterAnswer, llmWorkerStoppedPastLease } from './fault-workers';

import { jsonRow } from './fault-common';
import { formatMarkdown } from './markdown-section';

export { jsonRow, type FaultRow } from './fault-common';

export const FAULT_SCENARIOS: Record<string, FaultScenario> = {
  'dynamodb-throttling-evaluation': dynamoThrottlingDuringEvaluation,
  's3-down-embedding': s3DownMidEmbedding,
  'chroma-down-harmonization': chromaDownMidHarmonization,
  'chroma-down-compaction': chromaDownMidCompaction,
};

/** Faults of processes (no fault proxy): workers stopped or killed, the Temporal server killed. */
export const PROCESS_FAULT_SCENARIOS: Record<string, FaultScenario> = {
  'llm-worker-sigstop-past-lease': llmWorkerStoppedPastLease,
  'llm-worker-killed-after-answer': llmWorkerKilledAfterAnswer,
  'temporal-killed-restarted': temporalKilledAndRestarted,
  'pipeline-worker-killed-after-batch-create': pipelineWorkerKilledAfterBatchCreate,
};

/** Default fault period: long enough for every retry layer to see it, short enough for a test. */
export const DEFAULT_FAULT_MS = 12_000;

/** The periods issue 13 names: S3 down 30 s mid-embedding, Chroma down 30 s mid-harmonization and mid-compaction. */
export const NAMED_FAULT_MS: Readonly<Record<string, number>> = {
  's3-down-embedding': 30_000,
  'chroma-down-harmonization': 30_000,
  'chroma-down-compaction': 30_000,
};

/** Runs the named scenarios (all by default) one after another on the shared stack. */
export async function runFaultScenarios(
  opts: { only?: string[]; faultMs?: number; log?: (line: string) => void } = {},
): Promise<FaultRow[]> {
  const stack = await ensureStack();
  const log = opts.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  const rows: FaultRow[] = [];
  for (const [name, scenario] of Object.entries({ ...FAULT_SCENARIOS, ...PROCESS_FAULT_SCENARIOS })) {
    if (opts.only && !opts.only.includes(name)) continue;
    const ctx: ScenarioContext = {
      stack,
      faultMs: opts.faultMs ?? NAMED_FAULT_MS[name] ?? DEFAULT_FAULT_MS,
      log,
    };
    log(`fault scenario ${name} (fault ${ctx.faultMs / 1000} s)...`);
    const row = await scenario(ctx);
    if (row.detail.proxy)
      log(`  ${name}: ${JSON.stringify(row.detail.proxy)} (afterFault > 0: the fault hit mid-run)`);
    rows.push(row);
  }
  return rows;
}

/** Said of a proxy fault: the run still used the service after the outage (it hit mid-run). */
function afterFaultNote(afterFault: number | undefined): string {
  return afterFault === undefined ? '' : `; ${afterFault} requests to it after it ended`;
}

/** docs/RELIABILITY.md: one row per fault, and how to read it. */
export function reliabilityMarkdown(rows: readonly FaultRow[], when = new Date()): string {
  const lines = [
    '# Reliability under injected faults',
    '',
    `Produced by \`npm run bench -- --faults\` on ${when.toISOString().slice(0, 10)}, not by hand. Each row: a pipeline`,
    'run on the real stack (Temporal, dynalite, s3rver, Chroma, the LLM emulator) with one service behind',
    'our fault proxy (`dev/stack/fault-proxy.ts`), or a process fault (a worker process stopped or killed,',
    'the Temporal server killed and restarted); the fault is injected mid-run. _Lost_ = items with no',
    'outcome; _extra provider requests_ = requests beyond a clean run of the same data (work paid twice),',
    'to be compared with the calls in flight when the fault hit; _cap held_ = the provider never saw more',
    'calls at once than `LLM_MAX_CONCURRENT_CALLS`.',
    '',
    '| fault | injected | run | items | succeeded | failed (reason) | lost | provider requests (clean) | extra | in flight at fault | cap held |',
    '|---|---|---|---:|---:|---:|---:|---:|---:|---:|---|',
  ];
  for (const r of rows) {
    const d = r.detail;
    lines.push(
      `| ${r.fault} | ${d.injected}${afterFaultNote(d.proxy?.afterFault)} | ${d.runStatus}, ${(d.makespanMs / 1000).toFixed(1)} s | ${r.items} | ${r.succeeded} | ${r.failedWithReason} | ${r.lost} | ${d.providerRequests} (${d.cleanProviderRequests}) | ${r.extraProviderRequests} | ${d.inFlightAtFault} | ${r.capHeld ? 'yes' : 'no'} (max ${d.inFlightMax} of ${d.cap}) |`,
    );
  }
  lines.push(
    '',
    'A limit no code can close: a worker frozen (SIGSTOP) while the provider still works on its request',
    'cannot abort that request. When its lease ends another worker takes the slot, so the provider may',
    'briefly see one call more than the cap, for requests longer than `LLM_PERMIT_LEASE_MS` (30 s by',
    'default). Measured once by hand: 20 s requests under a 10 s lease, 4 calls at once against a cap of 3.',
    'A worker killed with kill -9 does not do this (its connections close). If frozen workers are a',
    "concern, set the lease above your provider's longest request (a dead worker's permits then take",
    'that long to come back).',
  );
  return `${lines.join('\n')}\n`;
}

/**
 * `npm run bench -- --faults [--json]`: runs every fault scenario, prints the table, writes
 * docs/RELIABILITY.md; with --json the last line is `{"faults":{"rows":[...]}}`.
 */
const RELIABILITY_FILE = 'docs/RELIABILITY.md';

export async function faultsBench(argv: readonly string[]): Promise<void> {
  const rows = await runFaultScenarios();
  const markdown = await formatMarkdown(reliabilityMarkdown(rows), RELIABILITY_FILE);
  fs.writeFileSync(RELIABILITY_FILE, markdown);
  console.log(markdown);
  if (argv.includes('--json')) console.log(JSON.stringify({ faults: { rows: rows.map(jsonRow) } }));
}
