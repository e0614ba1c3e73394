// `npm run bench [-- --quick] [--json]` (`-- --faults [--json]`: only the fault scenarios, bench/faults.ts,
// writing docs/RELIABILITY.md): the seed's design vs ours on the same receipts and the same
// emulated provider limit, in one run; prints a table, writes docs/BENCHMARKS.md and an SVG of LLM
// calls in flight over time. Also: orchestration overhead, cache rerun, kill -9 at half-way.
// `-- --scale` (bench/scale.ts) and `-- --short-calls` (bench/short-calls.ts) write only their section.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import type { Client } from '@temporalio/client';
import { loadConfig, type AppConfig } from '../src/config';
import type { EvaluationReport } from '../src/activities/evaluate';
import { writeDataset } from '../dev/seed';
import { createStores } from '../src/deps';
import { generateDataset } from '../dev/generator/generator';
import { startEmulator, type EmulatorHandle } from '../dev/emulator/server';
import { GlobalLimiter } from '../src/llm/limiter';
import { createDynamoClient } from '../src/stores/clients';
import { ensureTable } from '../src/stores/provision';
import { connectClient } from '../src/temporal';
import { startWorkers } from '../src/worker';
import type { EvaluateLabelsInput } from '../src/workflows/evaluate';
import { ensureStack } from '../dev/harness/stack';
import { workflowBundle } from '../dev/harness/pipeline';
import { benchEmulator } from './emulator';
import { faultsBench } from './faults';
import { queueingSection, realOllamaSection, renderQueueingTable } from './queueing';
import { renderScaleSection, scaleSection } from './scale';
import { renderShortCallsSection, shortCallsSection } from './short-calls';
import { ollamaInstall } from '../dev/stack/tools';
import { markedSections, writeSection } from './markdown-section';
import { SEED_DESIGN_FULL_JITTER, runSeedDesign } from './seed-design';
import { inFlightSvg, type SeriesPanel } from './svg';
import { evaluateLabels } from '../src/workflows';

interface Profile {
  merchants: number;
  receiptsPerMerchant: number;
  providerLimit: number;
  latencyMs: number;
  jitterMs: number;
  overheadSizes: number[];
}

const QUICK: Profile = {
  merchants: 3,
  receiptsPerMerchant: 20,
  providerLimit: 4,
  latencyMs: 500,
  jitterMs: 100,
  overheadSizes: [100, 300],
};
const FULL: Profile = {
  merchants: 3,
  receiptsPerMerchant: 50,
  providerLimit: 8,
  latencyMs: 800,
  jitterMs: 200,
  overheadSizes: [100, 1000],
};

export interface DesignFigures {
  makespanMs: number;
  /** Requests the provider received, refused ones included. */
  requests: number;
  /** LLM calls answered. */
  calls: number;
  rateLimited: number;
  inFlightMax: number;
  succeeded: number;
  failed: number;
  efficiency: number;
  /** From the start to the first call the provider admitted. */
  firstCallMs: number;
  /** From the end of the last call to the end of the run. */
  afterLastCallMs: number;
}

const log = (s: string) => process.stderr.write(s + '\n');

function figures(
  e: EmulatorHandle,
  p: Profile,
  makespanMs: number,
  succeeded: number,
  failed: number,
): DesignFigures & { series: SeriesPanel['points'] } {
  const m = e.metrics();
  const calls = m.requests - m.rateLimited - m.errors - m.timeouts;
  const bound = (calls * p.latencyMs) / p.providerLimit;
  return {
    makespanMs,
    requests: m.requests,
    calls,
    rateLimited: m.rateLimited,
    inFlightMax: m.inFlightMax,
    succeeded,
    failed,
    efficiency: Math.round((bound / makespanMs) * 100) / 100,
    firstCallMs: m.series.find((s) => s.max > 0)?.t ?? makespanMs,
    afterLastCallMs: Math.max(0, makespanMs - (m.series.at(-1)?.t ?? makespanMs)),
    series: m.series.map((s) => ({ t: s.t, inFlight: s.inFlight })),
  };
}

async function runOurs(
  cfg: AppConfig,
  client: Client,
  input: EvaluateLabelsInput,
): Promise<EvaluationReport> {
  const runId = `bench-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 6)}`;
  return (await client.workflow.execute(evaluateLabels, {
    taskQueue: cfg.TASK_QUEUE_PIPELINE,
    workflowId: runId,
    // Labels kept as they are: every design reviews exactly the same issues (--revalidate).
    args: [{ runId, llmTaskQueue: cfg.TASK_QUEUE_LLM, applySuggestedLabels: false, ...input }],
  })) as EvaluationReport;
}

/** Fresh shared limiter state, so each scenario starts as a first run would. */
async function resetLimiter(cfg: AppConfig): Promise<void> {
  await new GlobalLimiter(createDynamoClient(cfg), cfg.DYNAMODB_TABLE, {
    cap: cfg.LLM_MAX_CONCURRENT_CALLS,
    leaseMs: cfg.LLM_PERMIT_LEASE_MS,
  }).resetState();
}

function benchConfig(id: string, emulatorUrl: string, truthFile: string, extra: Record<string, string> = {}) {
  const env = {
    DYNAMODB_TABLE: `bench-${id}`,
    TASK_QUEUE_PIPELINE: `bench-pipeline-${id}`,
    TASK_QUEUE_LLM: `bench-llm-${id}`,
    OLLAMA_HOST: emulatorUrl,
    TRUTH_FILE: truthFile,
    LLM_PERMIT_LEASE_MS: '10000',
    ...extra,
  };
  return { env, cfg: loadConfig({ ...process.env, ...env }) };
}

function spawnWorker(env: Record<string, string>): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', 'src/worker.ts', '--queues', 'pipeline,llm'], {
    env: { ...process.env, ...env, LOG_LEVEL: 'ERROR', NODE_NO_WARNINGS: '1' },
    stdio: 'ignore',
  });
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const quick = argv.includes('--quick');
  const json = argv.includes('--json');
  const p = quick ? QUICK : FULL;
  const strip = <T extends { series: unknown }>({ series: _s, ...rest }: T) => rest;
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  if (argv.includes('--faults')) return faultsBench(argv);
  // A stack this bench starts keeps dynalite's tables in memory, as `npm test`'s does: dynalite stands
  // in for DynamoDB, whose CPU is no deployment's, and LevelDB's grew with the tables (scale, 3,000
  // receipts: 46.6 CPU-ms per LLM call on disk, half the run's, which used 83% of the 2 cores; 25.3 in
  // memory). A stack already running is reused as it is; the scale and short-calls sections say which.
  process.env.STACK_DYNAMODB_IN_MEMORY ??= 'true';
  await ensureStack();
  if (argv.includes('--scale')) return runScaleBench(argv, json);
  if (argv.includes('--short-calls')) return runShortCallsBench(json);
  const id = Date.now().toString(36);
  const truthFile = path.join(os.tmpdir(), `bench-truth-${id}.json`);
  const emulator = await startEmulator({
    port: 0,
    maxConcurrency: p.providerLimit,
    latencyMs: p.latencyMs,
    jitterMs: p.jitterMs,
    retryAfterS: 1,
    accuracy: 1,
    truthFile,
  });
  const started = Date.now();
  const { env, cfg } = benchConfig(id, emulator.url, truthFile, {
    LLM_MAX_CONCURRENT_CALLS: String(p.providerLimit),
  });
  await ensureTable(cfg);
  const receipts = p.merchants * p.receiptsPerMerchant;
  await writeDataset(
    cfg,
    generateDataset({ merchants: p.merchants, receiptsPerMerchant: p.receiptsPerMerchant, seed: 2026 }),
  );
  const bundle = await workflowBundle();
  log(
    `bench (${quick ? 'quick' : 'full'}): ${receipts} receipts, provider limit ${p.providerLimit}, latency ${p.latencyMs}±${p.jitterMs} ms`,
  );

  // 1. The seed's design: nested Maps 3/10/5, 3 calls per review, two retry layers.
  emulator.reset();
  log('  seed design ...');
  const n = await runSeedDesign(cfg);
  const naive = figures(emulator, p, n.makespanMs, n.succeeded, n.failed);
  // Its operators then re-run the receipts that failed until every one is reviewed (kinder than
  // the seed's state machine, which has no Catch: one failed receipt fails the whole execution).
  let untilDoneMs = n.makespanMs;
  let executions = 1;
  let stillFailed = n.failedReceiptIds;
  for (; stillFailed.length > 0 && executions < 6; executions++) {
    log(`  seed design, re-run of ${stillFailed.length} failed receipts ...`);
    const again = await runSeedDesign(cfg, { receiptIds: stillFailed });
    untilDoneMs += again.makespanMs;
    stillFailed = again.failedReceiptIds;
  }
  const naiveUntilDone = {
    ...figures(emulator, p, untilDoneMs, receipts - stillFailed.length, stillFailed.length),
    executions,
  };
  emulator.reset();
  log('  seed design, retries with full jitter ...');
  const nj = await runSeedDesign(cfg, SEED_DESIGN_FULL_JITTER);
  const naiveJitter = figures(emulator, p, nj.makespanMs, nj.succeeded, nj.failed);

  // 2. Ours, cap = provider limit. First run (noCache): it also records the review decisions,
  //    so later runs use --revalidate to review exactly the same issues.
  const client = await connectClient(cfg);
  let workers = await startWorkers(cfg, { queues: ['pipeline', 'llm'], workflowBundle: bundle });
  await resetLimiter(cfg);
  emulator.reset();
  log('  ours (cap = provider limit) ...');
  const t = await runOurs(cfg, client, { noCache: true });
  const temporal = figures(emulator, p, t.makespanMs, t.succeeded, t.failed);

  // --queueing: only the queueing-provider sections (and real Ollama with --ollama), after the first run.
  if (argv.includes('--queueing')) {
    await workers.shutdown();
    const queueing = await queueingSection(
      { env, client, bundle, log, truthFile },
      { parallel: p.providerLimit, cap: p.providerLimit * 8, latencyMs: p.latencyMs },
    );
    const realOllama = argv.includes('--ollama')
      ? await realOllamaSection({ env, client, bundle, log, id }, { cap: 16, receipts: 8 })
      : undefined;
    await client.connection.close();
    await emulator.close();
    const r = { profile: quick ? 'quick' : 'full', receipts, queueing, realOllama, realOllamaNote: '' };
    console.log(renderQueueingTable(queueing, realOllama));
    await writeSection('queueing', renderQueueingSection(r));
    if (json) console.log(JSON.stringify({ queueing, ...(realOllama ? { realOllama } : {}) }));
    return;
  }

  // 3. Cache rerun: same data, --revalidate, cache on: the provider should see nothing.
  emulator.reset();
  log('  rerun from cache ...');
  const c = await runOurs(cfg, client, { revalidate: true });
  const cacheRerun = {
    makespanMs: c.makespanMs,
    requests: emulator.metrics().requests,
    cacheHits: c.llm.cacheHits,
  };
  await workers.shutdown();

  // 3b. Cap = provider limit, the same prompts again (--revalidate --no-cache), latency-aware (the
  //     default) beside refusal-only (the design before the latency signal), each from a fresh limiter.
  const capped: Record<'latency' | 'refusal', DesignFigures> = {} as never;
  for (const mode of ['latency', 'refusal'] as const) {
    const modeCfg = loadConfig({ ...process.env, ...env, LLM_ADAPTIVE: mode });
    await resetLimiter(modeCfg);
    workers = await startWorkers(modeCfg, { queues: ['pipeline', 'llm'], workflowBundle: bundle });
    emulator.reset();
    log(`  ours, cap ${p.providerLimit}, LLM_ADAPTIVE=${mode} ...`);
    const m = await runOurs(modeCfg, client, { revalidate: true, noCache: true });
    capped[mode] = strip(figures(emulator, p, m.makespanMs, m.succeeded, m.failed));
    await workers.shutdown();
  }

  // 4. Ours with the cap 4x too high: the adaptive limit has to find the provider's.
  const adaptiveCfg = loadConfig({
    ...process.env,
    ...env,
    LLM_MAX_CONCURRENT_CALLS: String(p.providerLimit * 4),
  });
  // The new cap is set first: a worker whose cap differs from the stored one is refused.
  await resetLimiter(adaptiveCfg);
  workers = await startWorkers(adaptiveCfg, { queues: ['pipeline', 'llm'], workflowBundle: bundle });
  emulator.reset();
  log(`  ours, cap ${p.providerLimit * 4} (adaptive) ...`);
  const a = await runOurs(adaptiveCfg, client, { revalidate: true, noCache: true });
  const adaptive = figures(emulator, p, a.makespanMs, a.succeeded, a.failed);
  await workers.shutdown();
  // 4a. The same with the limit learning from refusals only (the design before the latency signal):
  //     the latency-aware default must not cost a refusing provider anything.
  const refusalCfg = loadConfig({
    ...process.env,
    ...env,
    LLM_MAX_CONCURRENT_CALLS: String(p.providerLimit * 4),
    LLM_ADAPTIVE: 'refusal',
  });
  await resetLimiter(refusalCfg);
  workers = await startWorkers(refusalCfg, { queues: ['pipeline', 'llm'], workflowBundle: bundle });
  emulator.reset();
  log(`  ours, cap ${p.providerLimit * 4} (adaptive, refusal only) ...`);
  const ar = await runOurs(refusalCfg, client, { revalidate: true, noCache: true });
  const adaptiveRefusalOnly = figures(emulator, p, ar.makespanMs, ar.succeeded, ar.failed);
  await workers.shutdown();

  // 4b. A provider that queues instead of refusing, our cap 8x its parallelism: three designs.
  log(`  queueing provider (parallel ${p.providerLimit}, cap ${p.providerLimit * 8}) ...`);
  const queueing = await queueingSection(
    { env, client, bundle, log, truthFile },
    { parallel: p.providerLimit, cap: p.providerLimit * 8, latencyMs: p.latencyMs },
  );
  // 4c. The same on the stack's real Ollama server (full profile, or --ollama; --no-ollama skips it).
  const wantOllama = argv.includes('--ollama') || (!quick && !argv.includes('--no-ollama'));
  let realOllama: Awaited<ReturnType<typeof realOllamaSection>> | undefined;
  let realOllamaNote = '';
  const missing = ollamaInstall(cfg).missing;
  if (wantOllama && missing) {
    realOllamaNote = `real Ollama rows skipped: ${missing}`;
  } else if (wantOllama) {
    log('  real Ollama (NUM_PARALLEL from OLLAMA_NUM_PARALLEL, cap 16) ...');
    realOllama = await realOllamaSection({ env, client, bundle, log, id }, { cap: 16, receipts: 8 });
  }

  // 5. kill -9 of the worker process at half-way, then a new worker.
  log('  kill -9 at half-way ...');
  await resetLimiter(cfg);
  emulator.reset();
  let child = spawnWorker(env);
  const killRunId = `bench-kill-${id}`;
  const killStart = Date.now();
  const handle = await client.workflow.start(evaluateLabels, {
    taskQueue: cfg.TASK_QUEUE_PIPELINE,
    workflowId: killRunId,
    args: [{ runId: killRunId, llmTaskQueue: cfg.TASK_QUEUE_LLM, revalidate: true, noCache: true }],
  });
  const { runs } = createStores(cfg);
  while ((await runs.listResults(killRunId)).length < receipts / 2)
    await new Promise((r) => setTimeout(r, 200));
  child.kill('SIGKILL');
  const requestsAtKill = emulator.metrics().requests;
  child = spawnWorker(env);
  const k = (await handle.result()) as EvaluationReport;
  child.kill('SIGTERM');
  const resume = {
    makespanMs: Date.now() - killStart,
    requests: emulator.metrics().requests,
    requestsAtKill,
    extraRequests: emulator.metrics().requests - temporal.requests,
    succeeded: k.succeeded,
    resultsWritten: (await runs.listResults(killRunId)).length,
  };

  // 6. Orchestration overhead: the child-workflow fan-out alone (--skip-llm-review).
  const overhead: Array<{ receipts: number; makespanMs: number; receiptsPerSecond: number }> = [];
  for (const size of p.overheadSizes) {
    const o = benchConfig(`${id}o${size}`, emulator.url, truthFile);
    await ensureTable(o.cfg);
    await writeDataset(o.cfg, generateDataset({ merchants: 5, receiptsPerMerchant: size / 5, seed: 7 }));
    const w = await startWorkers(o.cfg, { queues: ['pipeline'], workflowBundle: bundle });
    log(`  overhead, ${size} receipts ...`);
    const r = await runOurs(o.cfg, client, { skipLlmReview: true });
    await w.shutdown();
    overhead.push({
      receipts: r.succeeded,
      makespanMs: r.makespanMs,
      receiptsPerSecond: Math.round((r.succeeded / r.makespanMs) * 10000) / 10,
    });
  }

  log('  emulator throughput ...');
  const emu = await benchEmulator({ durationS: quick ? 3 : 5 });
  await client.connection.close();
  await emulator.close();

  const result = {
    profile: quick ? 'quick' : 'full',
    receipts,
    providerLimit: p.providerLimit,
    latencyMs: p.latencyMs,
    naive: strip(naive),
    naiveJitter: strip(naiveJitter),
    naiveUntilDone: strip(naiveUntilDone),
    temporal: strip(temporal),
    adaptive: strip(adaptive),
    adaptiveRefusalOnly: strip(adaptiveRefusalOnly),
    cappedLatencyAware: capped.latency,
    cappedRefusalOnly: capped.refusal,
    queueing,
    ...(realOllama ? { realOllama } : {}),
    realOllamaNote,
    overhead,
    cacheRerun,
    resume,
    emulatorRequestsPerSecond: emu.requestsPerSecond,
    speedup: Math.round((naive.makespanMs / temporal.makespanMs) * 100) / 100,
    speedupVsJitter: Math.round((naiveJitter.makespanMs / temporal.makespanMs) * 100) / 100,
    speedupUntilDone: Math.round((naiveUntilDone.makespanMs / temporal.makespanMs) * 100) / 100,
    efficiency: temporal.efficiency,
    benchSeconds: Math.round((Date.now() - started) / 1000),
  };
  // The seed design's panel plots the requests its clients had out (refused ones until their 429):
  // the emulator's series only counts admitted requests and so can never rise above the limit.
  const svg = inFlightSvg(
    [
      {
        title: `seed design: nested Maps 3/10/5 x 3 calls, two retry layers (requests sent, refused ones included)`,
        points: n.attemptedSeries,
        makespanMs: naive.makespanMs,
      },
      {
        title: `ours: cap ${p.providerLimit} = provider limit`,
        points: temporal.series,
        makespanMs: temporal.makespanMs,
      },
      {
        title: `ours: cap ${p.providerLimit * 4}, adaptive`,
        points: adaptive.series,
        makespanMs: adaptive.makespanMs,
      },
    ],
    p.providerLimit,
  );
  const table = renderTable(result);
  console.log(table);
  fs.mkdirSync('docs', { recursive: true });
  // The full profile's figures are the record (docs/BENCHMARKS.md); a quick run writes beside them.
  const svgName = quick ? 'bench-inflight-quick.svg' : 'bench-inflight.svg';
  fs.writeFileSync(`docs/${svgName}`, svg);
  if (quick) {
    fs.writeFileSync('docs/BENCHMARKS-quick.md', renderMarkdown(result, table, emu, argv, svgName));
  } else {
    // Sections other benches wrote between their markers (bench/enrichment.ts, ...) are kept.
    const previous = fs.existsSync('docs/BENCHMARKS.md') ? fs.readFileSync('docs/BENCHMARKS.md', 'utf8') : '';
    fs.writeFileSync(
      'docs/BENCHMARKS.md',
      renderMarkdown(result, table, emu, argv, svgName) + markedSections(previous),
    );
  }
  // The queueing-provider figures are their own section of docs/BENCHMARKS.md, from either profile.
  await writeSection('queueing', renderQueueingSection(result));
  if (json) console.log(JSON.stringify(result));
}

/** `--scale [--receipts N]`: only the scale section (a growth table at 300, 1,000 and N receipts). */
async function runScaleBench(argv: string[], json: boolean): Promise<void> {
  const i = argv.indexOf('--receipts');
  const n = i >= 0 ? Number(argv[i + 1]) : 3000;
  if (!Number.isInteger(n) || n < 12)
    throw new Error(`--receipts takes a whole number of at least 12, got ${argv[i + 1]}`);
  const sizes = [...new Set([300, 1000, n].filter((x) => x <= n))];
  const client = await connectClient(loadConfig());
  log(`bench --scale: ${sizes.join(' / ')} receipts, 2 llm + 1 pipeline worker processes`);
  const scale = await scaleSection(client, sizes);
  await client.connection.close();
  const body = renderScaleSection(scale);
  console.log(body);
  await writeSection('scale', body);
  if (json) console.log(JSON.stringify({ scale }));
}

/** `--short-calls`: only the short-calls section (provider limit 4, 200 ms calls, cap 16). */
async function runShortCallsBench(json: boolean): Promise<void> {
  const client = await connectClient(loadConfig());
  log('bench --short-calls: 240 receipts, provider limit 4, 200 ms calls, cap 16');
  const shortCalls = await shortCallsSection(client);
  await client.connection.close();
  const body = renderShortCallsSection(shortCalls);
  console.log(body);
  await writeSection('short-calls', body);
  if (json) console.log(JSON.stringify({ shortCalls }));
}

function renderQueueingSection(
  r: Pick<Result, 'profile' | 'receipts' | 'queueing' | 'realOllama' | 'realOllamaNote'>,
): string {
  return `## A provider that queues instead of refusing (\`npm run bench${r.profile === 'quick' ? ' -- --quick' : ''}\`, ${new Date().toISOString().slice(0, 10)})

A real Ollama server queues every request beyond \`OLLAMA_NUM_PARALLEL\` without limit and never answers 429;
hosted APIs queue internally before they refuse. Same workload (the bench's ${r.receipts} receipts, \`--revalidate
--no-cache\`: the same prompts), our cap 8x the provider's parallelism, three designs: **fixed-cap**
(\`LLM_ADAPTIVE=off\`), **refusal-adaptive** (learns from 429/503 only, the design before this section existed) and
**latency-adaptive** (\`LLM_ADAPTIVE=latency\`, the default). Throughput share = mean provider slots busy while
there was LLM work / the provider's slots. Unloaded latency = what each call of the workload takes alone (the
emulator's own service-time model; for real Ollama, the same prompts run one at a time).

${renderQueueingTable(r.queueing, r.realOllama)}
${r.realOllamaNote ? `\n${r.realOllamaNote}\n` : ''}`;
}

type Result = {
  profile: string;
  receipts: number;
  providerLimit: number;
  latencyMs: number;
  naive: DesignFigures;
  naiveJitter: DesignFigures;
  naiveUntilDone: DesignFigures & { executions: number };
  temporal: DesignFigures;
  adaptive: DesignFigures;
  adaptiveRefusalOnly: DesignFigures;
  cappedLatencyAware: DesignFigures;
  cappedRefusalOnly: DesignFigures;
  queueing: Awaited<ReturnType<typeof queueingSection>>;
  realOllama?: Awaited<ReturnType<typeof realOllamaSection>>;
  realOllamaNote: string;
  overhead: Array<{ receipts: number; makespanMs: number; receiptsPerSecond: number }>;
  cacheRerun: { makespanMs: number; requests: number; cacheHits: number };
  resume: {
    makespanMs: number;
    requests: number;
    requestsAtKill: number;
    extraRequests: number;
    succeeded: number;
    resultsWritten: number;
  };
  emulatorRequestsPerSecond: number;
  speedup: number;
  speedupVsJitter: number;
  speedupUntilDone: number;
  efficiency: number;
  benchSeconds: number;
};

function renderTable(r: Result): string {
  const row = (name: string, d: DesignFigures) =>
    `| ${name} | ${(d.makespanMs / 1000).toFixed(1)} | ${d.requests} | ${d.calls} | ${d.rateLimited} (${((100 * d.rateLimited) / Math.max(1, d.requests)).toFixed(1)}%) | ${d.inFlightMax} | ${d.succeeded}/${d.succeeded + d.failed} | ${d.efficiency} | ${(d.firstCallMs / 1000).toFixed(1)} / ${(d.afterLastCallMs / 1000).toFixed(1)} |`;
  return [
    `| design | makespan s | provider requests | calls answered | refused (429) | in flight max | receipts ok | efficiency | to first call / after last s |`,
    `|---|---|---|---|---|---|---|---|---|`,
    row('seed design (3/10/5 x 3, two retry layers)', r.naive),
    row(
      `seed design until every receipt is reviewed (${r.naiveUntilDone.executions} executions: the failed ones re-run)`,
      r.naiveUntilDone,
    ),
    row('seed design, Lambda retries with exponential backoff + full jitter', r.naiveJitter),
    row(`ours, cap ${r.providerLimit}`, r.temporal),
    row(
      `ours, cap ${r.providerLimit}, again (--revalidate --no-cache), latency-aware (the default)`,
      r.cappedLatencyAware,
    ),
    row(
      `ours, cap ${r.providerLimit}, again (--revalidate --no-cache), refusal only (before the latency signal)`,
      r.cappedRefusalOnly,
    ),
    row(`ours, cap ${r.providerLimit * 4}, adaptive (latency-aware, the default)`, r.adaptive),
    row(
      `ours, cap ${r.providerLimit * 4}, adaptive to refusals only (before the latency signal)`,
      r.adaptiveRefusalOnly,
    ),
    '',
    `speedup ours vs seed design: ${r.speedup}x per execution, ${r.speedupUntilDone}x until every receipt is reviewed (vs its full-jitter variant: ${r.speedupVsJitter}x); efficiency = (calls answered x ${r.latencyMs} ms / ${r.providerLimit}) / makespan`,
    '',
    renderQueueingTable(r.queueing, r.realOllama),
    ...(r.realOllamaNote ? ['', r.realOllamaNote] : []),
    '',
    `| orchestration only (--skip-llm-review) | receipts | makespan s | receipts/s |`,
    `|---|---|---|---|`,
    ...r.overhead.map(
      (o) =>
        `| merchant -> batch children, receipts inline | ${o.receipts} | ${(o.makespanMs / 1000).toFixed(1)} | ${o.receiptsPerSecond} |`,
    ),
    '',
    `| resilience | figure |`,
    `|---|---|`,
    `| rerun from cache (--revalidate): provider requests | ${r.cacheRerun.requests} (${r.cacheRerun.cacheHits} cache hits, ${(r.cacheRerun.makespanMs / 1000).toFixed(1)} s) |`,
    `| kill -9 at half-way: provider requests vs clean run | ${r.resume.requests} vs ${r.temporal.requests} (extra ${r.resume.extraRequests}); ${r.resume.succeeded} receipts ok, ${r.resume.resultsWritten} results written |`,
    `| emulator alone, zero latency | ${Math.round(r.emulatorRequestsPerSecond)} requests/s |`,
  ].join('\n');
}

function renderMarkdown(
  r: Result,
  table: string,
  emu: Awaited<ReturnType<typeof benchEmulator>>,
  argv: string[],
  svgName: string,
): string {
  return `# Benchmarks

Produced by \`npm run bench${argv.length ? ' -- ' + argv.join(' ') : ''}\` on ${new Date().toISOString().slice(0, 10)},
machine: ${os.cpus().length} cores (${os.cpus()[0]?.model ?? 'unknown'}), ${Math.round(os.totalmem() / 2 ** 30)} GiB,
Node ${process.version}, the embedded stack (Temporal dev server, dynalite) and the in-process emulator.
Profile **${r.profile}**: ${r.receipts} receipts (3 merchants), emulated provider limit ${r.providerLimit}
concurrent calls (over it: 429 with Retry-After 1 s), latency ${r.latencyMs} ms with jitter. Whole bench: ${r.benchSeconds} s.
${r.profile === 'quick' ? "The full profile's figures are in [BENCHMARKS.md](BENCHMARKS.md)." : 'The last `--quick` run is in [BENCHMARKS-quick.md](BENCHMARKS-quick.md).'}

${table}

![LLM calls in flight over time](${svgName})

How to read it:
- **seed design** is seed 000's structure in plain Node (\`bench/seed-design.ts\`): Map concurrency 3 / 10 / 5,
  each receipt's review making up to 3 concurrent calls of 20 issues, with the retry settings of the seed
  project's own code (tnorlund/Portfolio): the Lambda's invoker retries a refused call 3 times after
  \`random.uniform(0, 0.25)\` s without reading Retry-After, then fails the Lambda; the state machine's \`Retry\`
  on that rate-limit error reruns the whole review after 5 s, 10 s and 20 s (IntervalSeconds 5, MaxAttempts 3,
  BackoffRate 2, its first rate-limit rule; later versions used 30 s x 5). A receipt out of retries counts as
  failed and the rest go on (the seed's state machine has no Catch: there the whole execution would fail).
  The second row replaces the Lambda's retries with 5 attempts of exponential backoff with full jitter
  (1 s x 2^n, AWS's recommendation), a fix the seed design did not have. Same prompts, same receipts, same
  provider; the seed design has no cache.
- **ours** is the Temporal pipeline: child workflows, the \`llm\` queue's global cap, Temporal as the only
  retry layer honouring Retry-After. The adaptive row runs with the cap set 4x above the provider's limit.
- **the picture**: the seed design's panel counts the requests its clients had out (a refused one until its 429
  came back); the other panels count what the provider admitted. The dashed line is the provider's limit.
- **efficiency** is the provider bound (calls answered x latency / provider concurrency) over the makespan.
- Emulator throughput detail: ${emu.byEndpoint.map((e) => `${e.endpoint} ${e.requestsPerSecond} req/s (p50 ${e.p50Ms} ms, p99 ${e.p99Ms} ms)`).join('; ')}.
`;
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
