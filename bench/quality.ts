// `npx tsx bench/quality.ts [--json]`: seed 002's workload (the fixture suite: 38 files, 91
// uncertain functions, 0.5 s per LLM call, 10 calls at once) through the seed's design
// (asyncio.gather + Semaphore(10), in plain Node) and through ours (Temporal workflow, `llm` queue
// with the global cap 10): makespan against the 5 s bound, and a run with 2% of calls failing for
// good. Prints a table and writes its section of docs/BENCHMARKS.md.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import type { Client } from '@temporalio/client';
import { loadConfig, type AppConfig } from '../src/config';
import type { QualityReport } from '../src/activities/analyze';
import { answerJsonSchema } from '../src/domain/llm-tasks';
import {
  analyzeTestFile,
  testLanguageOf,
  testQualityMessages,
  testQualitySchemaFor,
  truncateSource,
  type UncertainFunction,
} from '../src/domain/quality';
import { startEmulator, type EmulatorHandle } from '../dev/emulator/server';
import { GlobalLimiter } from '../src/llm/limiter';
import { safeParseJson } from '../src/llm/llm-client';
import { createProvider } from '../src/llm/providers';
import { createDynamoClient } from '../src/stores/clients';
import { ensureTable } from '../src/stores/provision';
import { mergeTruth } from '../src/stores/truth';
import { connectClient } from '../src/temporal';
import { startWorkers } from '../src/worker';
import type { AnalyzeTestSuiteInput } from '../src/workflows/analyze';
import { ensureStack } from '../dev/harness/stack';
import { workflowBundle } from '../dev/harness/pipeline';
import { writeSection } from './markdown-section';
import { analyzeTestSuite } from '../src/workflows';

const FIXTURE = path.resolve(__dirname, '../test/fixtures/quality');
const LATENCY_MS = 500;
const CAP = 10;
const FAIL_RATE = 0.02;
/** The seed's figure for its semaphore design: ~5 s (10 rounds of 0.5 s for 91 calls at 10). */
const SEED_BOUND_MS = 5000;

interface Row {
  design: string;
  makespanMs: number;
  wallMs: number;
  requests: number;
  inFlightMax: number;
  analyzed: number;
  unanalyzed: number;
  cacheHits?: number;
}

const log = (s: string) => process.stderr.write(s + '\n');

function fixtureFiles(): string[] {
  return (fs.readdirSync(FIXTURE, { recursive: true }) as string[])
    .map((f) => f.split(path.sep).join('/'))
    .filter((f) => testLanguageOf(f))
    .sort();
}

function uncertainFunctions(): UncertainFunction[] {
  return fixtureFiles().flatMap((f) =>
    analyzeTestFile(f, fs.readFileSync(path.join(FIXTURE, f), 'utf8'))
      .functions.filter((fn) => fn.uncertain)
      .map((fn) => ({ ...fn, source: truncateSource(fn.source) })),
  );
}

/** The seed's Phase 2: every call gathered at once behind a semaphore, exceptions returned. */
async function runSeedDesign(
  cfg: AppConfig,
  fns: UncertainFunction[],
  emulator: EmulatorHandle,
): Promise<Row> {
  const provider = createProvider(cfg);
  let free = CAP;
  const waiters: Array<() => void> = [];
  const acquire = async () => {
    if (free > 0) free--;
    else await new Promise<void>((r) => waiters.push(r));
  };
  const release = () => {
    const next = waiters.shift();
    if (next) next();
    else free++;
  };
  const started = Date.now();
  const results = await Promise.allSettled(
    fns.map(async (fn) => {
      await acquire();
      try {
        const res = await provider.chat({
          model: cfg.llmModel,
          messages: testQualityMessages(fn),
          jsonSchema: answerJsonSchema('test_quality'),
          schemaName: 'test_quality',
        });
        const parsed = safeParseJson(res.content, testQualitySchemaFor(fn.id));
        if (!parsed.ok) throw new Error(parsed.error);
      } finally {
        release();
      }
    }),
  );
  const wallMs = Date.now() - started;
  const m = emulator.metrics();
  const failed = results.filter((r) => r.status === 'rejected').length;
  return {
    design: '',
    makespanMs: wallMs,
    wallMs,
    requests: m.requests,
    inFlightMax: m.inFlightMax,
    analyzed: fns.length - failed,
    unanalyzed: failed,
  };
}

async function runOurs(
  cfg: AppConfig,
  client: Client,
  emulator: EmulatorHandle,
  input: AnalyzeTestSuiteInput,
) {
  const runId = `bench-quality-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 6)}`;
  const started = Date.now();
  const report = (await client.workflow.execute(analyzeTestSuite, {
    taskQueue: cfg.TASK_QUEUE_PIPELINE,
    workflowId: runId,
    args: [{ runId, llmTaskQueue: cfg.TASK_QUEUE_LLM, ...input }],
  })) as QualityReport;
  const m = emulator.metrics();
  const row: Row = {
    design: '',
    makespanMs: report.makespanMs,
    wallMs: Date.now() - started,
    requests: m.requests,
    inFlightMax: m.inFlightMax,
    analyzed: report.analyzedByLlm,
    unanalyzed: report.unanalyzed.length,
    cacheHits: report.llm.cacheHits,
  };
  return { row, report };
}

async function main(): Promise<void> {
  const json = process.argv.includes('--json');
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  // Other processes on the machine skew makespans; the table says how busy it was.
  const loadAtStart = os.loadavg()[0]!.toFixed(1);
  await ensureStack();
  const id = Date.now().toString(36);
  const truthFile = path.join(os.tmpdir(), `bench-quality-truth-${id}.json`);
  const truth = JSON.parse(fs.readFileSync(path.join(FIXTURE, 'truth.json'), 'utf8')) as { functions: never };
  await mergeTruth(truthFile, { functions: truth.functions });
  const emulator = await startEmulator({
    port: 0,
    latencyMs: LATENCY_MS,
    jitterMs: 0,
    accuracy: 1,
    seed: 2026,
    truthFile,
  });
  const env = {
    DYNAMODB_TABLE: `bench-quality-${id}`,
    TASK_QUEUE_PIPELINE: `bench-quality-pipeline-${id}`,
    TASK_QUEUE_LLM: `bench-quality-llm-${id}`,
    OLLAMA_HOST: emulator.url,
    TRUTH_FILE: truthFile,
    LLM_PERMIT_LEASE_MS: '10000',
    LLM_MAX_CONCURRENT_CALLS: String(CAP),
    // An invalid answer is a permanent failure at once (the 2% run); clean runs never repair.
    LLM_REPAIR_ATTEMPTS: '0',
  };
  const cfg = loadConfig({ ...process.env, ...env });
  await ensureTable(cfg);
  const fns = uncertainFunctions();
  log(`bench quality: ${fns.length} uncertain functions, ${LATENCY_MS} ms per call, cap ${CAP}`);
  const rows: Row[] = [];

  const seedRun = async (design: string) => {
    emulator.reset();
    log(`  ${design} ...`);
    rows.push({ ...(await runSeedDesign(cfg, fns, emulator)), design });
  };
  await seedRun('seed design: gather + Semaphore(10)');

  const client = await connectClient(cfg);
  const workers = await startWorkers(cfg, {
    queues: ['pipeline', 'llm'],
    workflowBundle: await workflowBundle(),
  });
  const ours = async (design: string, input: Partial<AnalyzeTestSuiteInput> = {}) => {
    emulator.reset();
    log(`  ${design} ...`);
    const { row, report } = await runOurs(cfg, client, emulator, { path: FIXTURE, noCache: true, ...input });
    rows.push({ ...row, design });
    return report;
  };
  await new GlobalLimiter(createDynamoClient(cfg), cfg.DYNAMODB_TABLE, {
    cap: CAP,
    leaseMs: cfg.LLM_PERMIT_LEASE_MS,
  }).resetState();
  await ours('ours, first run (limiter in slow start)');
  await ours('ours, limiter warm');
  await ours('ours, rerun answered from the cache', { noCache: false });

  emulator.updateSettings({ malformedRate: FAIL_RATE });
  await seedRun(`seed design, ${FAIL_RATE * 100}% of calls failing`);
  const failing = await ours(`ours, ${FAIL_RATE * 100}% of calls failing for good`);
  emulator.updateSettings({ malformedRate: 0 });
  await workers.shutdown();

  // A fixed cap, like the seed's semaphore: no slow start (LLM_ADAPTIVE=false).
  const fixed = await startWorkers(loadConfig({ ...process.env, ...env, LLM_ADAPTIVE: 'false' }), {
    queues: ['pipeline', 'llm'],
    workflowBundle: await workflowBundle(),
  });
  await ours('ours, LLM_ADAPTIVE=false (a fixed cap, like the semaphore)');
  await fixed.shutdown();
  await client.connection.close();
  await emulator.close();

  const fluidMs = (fns.length * LATENCY_MS) / CAP;
  const table = [
    `| design | makespan s | vs 5 s bound | provider requests | in flight max | analyzed | unanalyzed |`,
    `|---|---|---|---|---|---|---|`,
    ...rows.map(
      (r) =>
        `| ${r.design} | ${(r.makespanMs / 1000).toFixed(2)} | ${(r.makespanMs / SEED_BOUND_MS).toFixed(2)}x | ${r.requests}${r.cacheHits ? ` (${r.cacheHits} cache hits)` : ''} | ${r.inFlightMax} | ${r.analyzed} | ${r.unanalyzed} |`,
    ),
  ].join('\n');
  console.log(table);
  const failedIds = failing.unanalyzed.map((u) => `\`${u.functionId}\``).join(', ');
  await writeSection(
    'quality',
    `## Quality analysis (seed 002): 91 uncertain functions, 0.5 s per call, 10 at once

\`npx tsx bench/quality.ts\` on ${new Date().toISOString().slice(0, 10)}, ${os.cpus().length} cores (load average ${loadAtStart}), the embedded
stack and the in-process emulator (latency ${LATENCY_MS} ms, no jitter, no provider limit). Workload: the fixture
suite \`test/fixtures/quality/\` (${fixtureFiles().length} files; the rules leave ${fns.length} functions uncertain),
\`LLM_MAX_CONCURRENT_CALLS=${CAP}\`. Bound: the seed's ~5 s (${Math.ceil(fns.length / CAP)} rounds of 0.5 s; the
fluid bound ${fns.length} x 0.5 s / ${CAP} is ${(fluidMs / 1000).toFixed(2)} s). Our makespan is the workflow's
(start to report, parsing and rules included).

${table}

- The failing runs use \`malformedRate ${FAIL_RATE}\` with \`LLM_REPAIR_ATTEMPTS=0\`: an invalid answer is a
  non-retryable failure, recorded per function as UNANALYZED with its reason; the run completes. This run's:
  ${failedIds || 'none'}.
- "first run": the shared adaptive limit starts at 4 in flight and grows by 25% per success level
  (\`src/llm/limiter.ts\`), which costs about three rounds once per deployment (the state is shared and kept
  in DynamoDB); "limiter warm" is every later run. With \`LLM_ADAPTIVE=false\` the cap is fixed from the start.
- The seed design has no orchestration at all (one process, in memory); ours adds a durable workflow, reading
  and parsing the files, the global permit (two DynamoDB writes per call) and a saved verdict per function.
`,
  );
  if (json) console.log(JSON.stringify({ rows, uncertain: fns.length, fluidMs }));
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
