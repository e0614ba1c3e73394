// The "queueing provider" section of `npm run bench`: a provider that queues work beyond its
// parallelism instead of refusing it (a self-hosted Ollama; a hosted API under load), with our cap 8x
// its parallelism, and three designs side by side on the same workload: a fixed cap, today's
// refusal-only adaptive limit, and the latency-aware one. Then the same question on the real Ollama
// server of the stack (when installed).
import os from 'node:os';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import type { WorkerOptions } from '@temporalio/worker';
import { loadConfig, type AppConfig } from '../src/config';
import type { EvaluationReport } from '../src/activities/evaluate';
import { writeDataset } from '../dev/seed';
import { createStores } from '../src/deps';
import { generateDataset } from '../dev/generator/generator';
import { llmPhase } from '../dev/emulator/metrics';
import { startEmulator, type EmulatorHandle } from '../dev/emulator/server';
import { serviceTimeMs } from '../dev/emulator/service-time';
import { percentile } from '../src/llm/accounting';
import { GlobalLimiter } from '../src/llm/limiter';
import { stackUp } from '../dev/stack/stack';
import { OLLAMA_STACK_MODEL, ollamaProviderEnv, ollamaUrl } from '../dev/stack/ollama';
import { createDynamoClient } from '../src/stores/clients';
import { ensureTable } from '../src/stores/provision';
import { startWorkers } from '../src/worker';
import { calibrateAgainstOllama, renderCalibration, type Calibration } from './ollama-calibration';
import type { EvaluateLabelsInput } from '../src/workflows/evaluate';
import { evaluateLabels } from '../src/workflows';

export type QueueingDesign = 'fixed-cap' | 'refusal-adaptive' | 'latency-adaptive';

export interface QueueingRow {
  design: QueueingDesign | 'lone-call';
  /** Mean provider slots busy while there was LLM work, over the provider's parallelism. */
  throughputShare: number;
  p50LatencyMs: number;
  p95LatencyMs: number;
  timeouts: number;
  makespanMs: number;
  /** The shared limit when the run ended. */
  learnedLimit: number;
  receiptsOk: number;
  receipts: number;
  queuedMax: number;
}

export interface QueueingSection {
  providerParallel: number;
  cap: number;
  /** Median of what each call of the workload would take alone on the provider. */
  unloadedLatencyMs: number;
  unloadedP95LatencyMs: number;
  rows: QueueingRow[];
}

const DESIGN_ENV: Record<QueueingDesign, string> = {
  'fixed-cap': 'off',
  'refusal-adaptive': 'refusal',
  'latency-adaptive': 'latency',
};

interface BenchContext {
  env: Record<string, string>;
  client: Client;
  bundle: NonNullable<WorkerOptions['workflowBundle']>;
  log: (s: string) => void;
}

async function runEvaluation(cfg: AppConfig, client: Client, input: EvaluateLabelsInput) {
  const runId = `bench-q-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 6)}`;
  return (await client.workflow.execute(evaluateLabels, {
    taskQueue: cfg.TASK_QUEUE_PIPELINE,
    workflowId: runId,
    // Labels kept as they are: every design reviews exactly the same issues (--revalidate).
    args: [{ runId, llmTaskQueue: cfg.TASK_QUEUE_LLM, applySuggestedLabels: false, ...input }],
  })) as EvaluationReport;
}

/** One design on one provider: fresh limiter state, its own workers, the same prompts (no cache). */
async function runDesign(
  ctx: BenchContext,
  design: QueueingDesign,
  extra: Record<string, string>,
  input: EvaluateLabelsInput,
  provider: { parallel: number; metrics?: () => ReturnType<EmulatorHandle['metrics']>; reset?: () => void },
) {
  const cfg = loadConfig({ ...process.env, ...ctx.env, ...extra, LLM_ADAPTIVE: DESIGN_ENV[design] });
  const limiter = () =>
    new GlobalLimiter(createDynamoClient(cfg), cfg.DYNAMODB_TABLE, {
      cap: cfg.LLM_MAX_CONCURRENT_CALLS,
      leaseMs: cfg.LLM_PERMIT_LEASE_MS,
      adaptive: cfg.LLM_ADAPTIVE !== 'off',
      // As the workers judge it: a latency-aware reader would see a refusal-only slow start at one call.
      latencyAware: cfg.LLM_ADAPTIVE === 'latency',
    });
  await limiter().resetState();
  const workers = await startWorkers(cfg, { queues: ['pipeline', 'llm'], workflowBundle: ctx.bundle });
  provider.reset?.();
  ctx.log(`  ${design}, cap ${cfg.LLM_MAX_CONCURRENT_CALLS} ...`);
  let report: EvaluationReport;
  try {
    report = await runEvaluation(cfg, ctx.client, input);
  } finally {
    await workers.shutdown();
  }
  const calls = (await createStores(cfg).runs.listCalls(report.runId)).filter(
    (c) => c.status !== 'cache_hit',
  );
  const snap = await limiter().snapshot();
  const m = provider.metrics?.();
  const phase = m ? llmPhase(m.series) : undefined;
  return {
    report,
    calls,
    row: {
      design,
      throughputShare: phase ? round2(phase.meanInFlight / provider.parallel) : 0,
      p50LatencyMs: report.llm.latencyMs.p50,
      p95LatencyMs: report.llm.latencyMs.p95,
      timeouts: report.llm.timeouts,
      makespanMs: report.makespanMs,
      learnedLimit: cfg.LLM_ADAPTIVE === 'off' ? cfg.LLM_MAX_CONCURRENT_CALLS : snap.allowed,
      receiptsOk: report.succeeded,
      receipts: report.total,
      queuedMax: m?.queuedMax ?? 0,
    } satisfies QueueingRow,
  };
}

const round2 = (x: number) => Math.round(x * 100) / 100;

/**
 * The emulator in queueing mode: `parallel` slots that do not slow each other (a hosted provider's
 * replicas), service time from tokens tuned so a typical review call takes about `latencyMs` alone.
 */
export async function queueingSection(
  ctx: BenchContext & { truthFile: string },
  opts: { parallel: number; cap: number; latencyMs: number },
): Promise<QueueingSection> {
  // A typical review call: ~830 prompt and ~530 completion tokens (README's report: 96 calls).
  const rates = {
    latencyMs: Math.round(opts.latencyMs * 0.1),
    prefillTokensPerS: Math.round(830 / ((opts.latencyMs * 0.2) / 1000)),
    decodeTokensPerS: Math.round(530 / ((opts.latencyMs * 0.7) / 1000)),
    parallelSpeedup: opts.parallel,
  };
  const emulator = await startEmulator({
    port: 0,
    providerModel: 'queueing',
    parallel: opts.parallel,
    maxQueue: 0,
    jitterMs: Math.round(opts.latencyMs * 0.05),
    accuracy: 1,
    truthFile: ctx.truthFile,
    ...rates,
  });
  const rows: QueueingRow[] = [];
  let unloaded: number[] = [];
  try {
    for (const design of ['fixed-cap', 'refusal-adaptive', 'latency-adaptive'] as const) {
      const r = await runDesign(
        ctx,
        design,
        { OLLAMA_HOST: emulator.url, LLM_MAX_CONCURRENT_CALLS: String(opts.cap) },
        // The decisions of the bench's first run, re-asked: the same prompts for every design.
        { revalidate: true, noCache: true },
        { parallel: opts.parallel, metrics: () => emulator.metrics(), reset: () => emulator.reset() },
      );
      rows.push(r.row);
      // What each call of this workload takes alone: the emulator's own service-time model.
      unloaded = r.calls
        .filter((c) => c.status === 'ok')
        .map((c) => serviceTimeMs({ ...c, busySlots: 1 }, rates))
        .sort((a, b) => a - b);
    }
  } finally {
    await emulator.close();
  }
  return {
    providerParallel: opts.parallel,
    cap: opts.cap,
    unloadedLatencyMs: Math.round(percentile(unloaded, 50)),
    unloadedP95LatencyMs: Math.round(percentile(unloaded, 95)),
    rows,
  };
}

/**
 * The real Ollama server of the stack (SmolLM2-135M, NUM_PARALLEL 2): a lone-call run (cap 1) for the
 * unloaded latency of exactly these prompts, then refusal-only and latency-aware at cap 16. Small
 * receipts and small review chunks: a 135M model on 2 cores takes seconds a call.
 */
export async function realOllamaSection(
  ctx: BenchContext & { id: string },
  opts: { cap: number; receipts: number },
): Promise<{
  parallel: number;
  unloadedLatencyMs: number;
  unloadedP95LatencyMs: number;
  rows: QueueingRow[];
  calibration: Calibration;
}> {
  const base = loadConfig({ ...process.env, ...ctx.env });
  await stackUp(base, { ollama: true });
  const parallel = base.OLLAMA_NUM_PARALLEL;
  const env = {
    ...ollamaProviderEnv(base),
    DYNAMODB_TABLE: `bench-ollama-${ctx.id}`,
    TRUTH_FILE: path.join(os.tmpdir(), `bench-ollama-truth-${ctx.id}.json`),
    LLM_REPAIR_ATTEMPTS: '1',
    LLM_CALL_TIMEOUT_MS: '120000',
  };
  const cfg = loadConfig({ ...process.env, ...ctx.env, ...env });
  await ensureTable(cfg);
  await writeDataset(
    cfg,
    generateDataset({
      merchants: 1,
      receiptsPerMerchant: opts.receipts,
      seed: 11,
      pendingRate: 0.2,
      minItems: 2,
      maxItems: 3,
    }),
  );
  const local = { ...ctx, env: { ...ctx.env, ...env } };
  ctx.log('  real Ollama: calibrating the emulator (1, 2, 4 requests at once) ...');
  const calibration = await calibrateAgainstOllama(
    ollamaUrl(base),
    OLLAMA_STACK_MODEL,
    parallel,
    env.TRUTH_FILE,
  );
  const input: EvaluateLabelsInput = { reviewChunkSize: 3, revalidate: true, noCache: true };
  // First run (not a design): warms the model and records the decisions --revalidate re-asks.
  await runDesign(
    local,
    'fixed-cap',
    { LLM_MAX_CONCURRENT_CALLS: String(parallel) },
    { reviewChunkSize: 3 },
    {
      parallel,
    },
  );
  const lone = await runDesign(local, 'fixed-cap', { LLM_MAX_CONCURRENT_CALLS: '1' }, input, { parallel });
  const loneLatencies = lone.calls
    .filter((c) => c.status === 'ok' || c.status === 'invalid_answer')
    .map((c) => c.latencyMs)
    .sort((a, b) => a - b);
  const rows: QueueingRow[] = [{ ...lone.row, design: 'lone-call' }];
  for (const design of ['refusal-adaptive', 'latency-adaptive'] as const) {
    const r = await runDesign(local, design, { LLM_MAX_CONCURRENT_CALLS: String(opts.cap) }, input, {
      parallel,
    });
    rows.push(r.row);
  }
  return {
    parallel,
    unloadedLatencyMs: Math.round(percentile(loneLatencies, 50)),
    unloadedP95LatencyMs: Math.round(percentile(loneLatencies, 95)),
    rows,
    calibration,
  };
}

export function renderQueueingTable(
  q: QueueingSection,
  real?: Awaited<ReturnType<typeof realOllamaSection>>,
) {
  const row = (r: QueueingRow, unloadedP95: number) =>
    `| ${r.design} | ${r.throughputShare || '—'} | ${r.p50LatencyMs} | ${r.p95LatencyMs} (${(r.p95LatencyMs / Math.max(1, unloadedP95)).toFixed(2)}x) | ${r.timeouts} | ${(r.makespanMs / 1000).toFixed(1)} | ${r.learnedLimit} | ${r.queuedMax || '—'} | ${r.receiptsOk}/${r.receipts} |`;
  const head = [
    `| design | throughput share | p50 call ms | p95 call ms (x unloaded p95) | timeouts | makespan s | limit at the end | provider queue max | receipts ok |`,
    `|---|---|---|---|---|---|---|---|---|`,
  ];
  const lines = [
    `Queueing provider (emulator, ${q.providerParallel} slots, FIFO queue without bound, never refuses), our cap ${q.cap}; ` +
      `a call alone takes ${q.unloadedLatencyMs} ms (p50) / ${q.unloadedP95LatencyMs} ms (p95):`,
    '',
    ...head,
    ...q.rows.map((r) => row(r, q.unloadedP95LatencyMs)),
  ];
  if (real) {
    lines.push(
      '',
      `Real Ollama (v0.17.4 built here, SmolLM2-135M, OLLAMA_NUM_PARALLEL ${real.parallel}, 2 cores); lone calls ` +
        `(cap 1, same prompts) took ${real.unloadedLatencyMs} ms (p50) / ${real.unloadedP95LatencyMs} ms (p95):`,
      '',
      ...head,
      ...real.rows.map((r) => row(r, real.unloadedP95LatencyMs)),
      '',
      renderCalibration(real.calibration),
    );
  }
  return lines.join('\n');
}
