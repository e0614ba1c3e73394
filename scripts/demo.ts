// The demo: stack up, seed, run every pipeline that exists with in-process workers, print reports.
// `--provider ollama`: the same on the stack's real LLM server (SmolLM2-135M) with a small workload.
import fs from 'node:fs/promises';
import path from 'node:path';
import { Runtime, DefaultLogger } from '@temporalio/worker';
import type { Client } from '@temporalio/client';
import type { Workflow } from '@temporalio/common';
import { loadConfig, type AppConfig } from '../src/config';
import { parseArgs, boolFlag, flag, numberFlag, assertKnownFlags, UsageError } from '../src/cli/args';
import { formatReport } from '../src/client';
import { startRun, waitForRun } from '../src/cli/runs';
import { writeDataset, writePlaces } from '../dev/seed';
import { generateDataset } from '../dev/generator/generator';
import { generatePlaces } from '../dev/generator/places';
import type { Truth } from '../src/domain/llm-tasks';
import { OLLAMA_STACK_MODEL, ollamaProviderEnv, stackUp } from '../dev/stack';
import { mergeTruth } from '../src/stores/truth';
import { connectClient } from '../src/temporal';
import { startWorkers } from '../src/worker';
import {
  analyzeTestSuite,
  embedBackfill,
  enrichPlaces,
  evaluateLabels,
  harmonizeLabels,
} from '../src/workflows';

interface Step {
  pipeline: string;
  workflow: Workflow;
  title: string;
  args: object;
}

type Report = Record<string, unknown> & {
  runId?: string;
  succeeded?: number;
  failed?: number;
  llm?: {
    calls: number;
    rateLimited: number;
    cacheHits: number;
    promptTokens: number;
    completionTokens: number;
    costUsd: number;
  };
};

async function runStep(cfg: AppConfig, client: Client, step: Step, uiBase: string, log: (s: string) => void) {
  const runId = await startRun(cfg, client, {
    pipeline: step.pipeline,
    workflow: step.workflow,
    args: step.args,
  });
  log(`  ${step.title}: run ${runId}\n    ${uiBase}/${runId}`);
  const report = await waitForRun<Report>(client, runId);
  log(formatReport(report).replace(/^/gm, '    '));
  return report;
}

/**
 * Settings of a demo on the stack's real Ollama server, under the user's own: the pipelines' LLM calls go
 * to it; the global cap matches the requests it answers at once; its data lives apart from the emulator
 * demo's (another table, truth file and Chroma collections: its embeddings have another dimension), so
 * neither demo sees the other's receipts or vectors. A CPU generates about 30 tokens a second on two
 * cores, so calls get fewer items each and more time; and as SmolLM2-135M fills each answer up to its
 * output limit, a repair would only generate as much again, so answers are not repaired.
 */
function ollamaDemoEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const base = loadConfig(env);
  return {
    DYNAMODB_TABLE: `${base.DYNAMODB_TABLE}-ollama`,
    TRUTH_FILE: path.join(base.dataDir, 'truth-ollama.json'),
    CHROMA_COLLECTION_PREFIX: 'ollama-',
    LLM_MAX_CONCURRENT_CALLS: String(base.OLLAMA_NUM_PARALLEL),
    REVIEW_CHUNK_SIZE: '5',
    HARMONIZE_BATCH_SIZE: '5',
    LLM_CALL_TIMEOUT_MS: '240000',
    LLM_REPAIR_ATTEMPTS: '0',
    ...env,
    ...ollamaProviderEnv(base),
  };
}

/** Pipelines a 135M model on a CPU can run in a demo's minutes, with why the others are left out. */
const OLLAMA_SKIPS: Record<string, string> = {
  embed: 'its OpenAI Batch API is the emulator, not the real model',
  analyze: 'about 90 LLM calls, minutes on a CPU',
};

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2), ['json']);
  assertKnownFlags(args, ['json', 'merchants', 'receipts', 'seed', 'places', 'provider']);
  const json = boolFlag(args, 'json');
  const provider = flag(args, 'provider') ?? 'emulator';
  if (provider !== 'emulator' && provider !== 'ollama')
    throw new UsageError(`--provider takes emulator or ollama, got "${provider}"`);
  const onOllama = provider === 'ollama';
  const log = (s: string) => (json ? process.stderr : process.stdout).write(s + '\n');
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  // The demo's batches complete within seconds (the emulator), so poll them every 2 s, not every 30 s.
  const env = { EMBED_POLL_INITIAL_MS: '2000', EMBED_POLL_MAX_MS: '5000', ...process.env };
  const cfg = loadConfig(onOllama ? ollamaDemoEnv(env) : env);
  const started = Date.now();

  log(
    `1/4 bringing the embedded stack up (Temporal + UI, Chroma, dynalite, s3rver, LLM emulator${onOllama ? `, Ollama with ${OLLAMA_STACK_MODEL}` : ''})...`,
  );
  const up = await stackUp(cfg, { ollama: onOllama });
  for (const [name, s] of Object.entries(up.status))
    log(`    ${name.padEnd(11)} ${s.state.padEnd(8)} ${s.url ?? ''}`);
  for (const note of up.notes.filter((n) => n.startsWith('ollama:'))) log(`    ${note}`);

  // On a CPU a label costs the real model ~6 s of generation: a small workload by default (2 receipts
  // have ~55 labels to review).
  const merchants = numberFlag(args, 'merchants', { min: 1, max: 100, int: true }) ?? (onOllama ? 1 : 3);
  const receipts = numberFlag(args, 'receipts', { min: 1, max: 1000, int: true }) ?? (onOllama ? 2 : 20);
  const places = numberFlag(args, 'places', { min: 1, max: 1000, int: true }) ?? (onOllama ? 2 : 20);
  const seed = numberFlag(args, 'seed', { int: true }) ?? 42;
  log(
    `2/4 seeding ${merchants} merchants x ${receipts} receipts (seed ${seed}, 5% planted label errors), ${places} places...`,
  );
  const summary = await writeDataset(
    cfg,
    generateDataset({ merchants, receiptsPerMerchant: receipts, seed }),
  );
  await writePlaces(cfg, generatePlaces({ count: places, seed }));
  const qualityDir = path.resolve('test/fixtures/quality');
  const qualityTruth = JSON.parse(
    await fs.readFile(path.join(qualityDir, 'truth.json'), 'utf8'),
  ) as Partial<Truth>;
  await mergeTruth(cfg.truthFile, { functions: qualityTruth.functions ?? {} });
  log(
    `    ${summary.receipts} receipts, ${summary.words} words, ${summary.planted} planted errors; ${places} places`,
  );

  log(
    `3/4 starting workers: pipeline + llm (global LLM cap ${cfg.LLM_MAX_CONCURRENT_CALLS}, ${cfg.llmProvider} ${cfg.llmModel} at ${cfg.llmBaseUrl})...`,
  );
  const workers = await startWorkers(cfg, { queues: ['pipeline', 'llm'] });
  const reports: Record<string, Report> = {};
  try {
    const client = await connectClient(cfg);
    const uiBase = `${up.status.temporalUi.url ?? `http://127.0.0.1:${cfg.TEMPORAL_UI_PORT}`}/namespaces/${cfg.TEMPORAL_NAMESPACE}/workflows`;
    log('4/4 running the pipelines (watch them in the Temporal UI):');
    const allSteps: Step[] = [
      {
        pipeline: 'evaluate',
        workflow: evaluateLabels,
        title: 'label evaluation (seed 000)',
        // The sizes of the LLM calls come from the config, as `npm run cli -- evaluate|harmonize` takes them.
        args: { reviewChunkSize: cfg.REVIEW_CHUNK_SIZE },
      },
      {
        pipeline: 'harmonize',
        workflow: harmonizeLabels,
        title: 'label harmonization (seed 001)',
        args: { batchSize: cfg.HARMONIZE_BATCH_SIZE },
      },
      {
        pipeline: 'embed',
        workflow: embedBackfill,
        title: 'line and word embeddings via the Batch API (seed 003)',
        args: {},
      },
      { pipeline: 'enrich', workflow: enrichPlaces, title: 'place enrichment (seed 004)', args: {} },
      {
        pipeline: 'analyze',
        workflow: analyzeTestSuite,
        title: 'test-suite quality (seed 002)',
        args: { path: qualityDir },
      },
    ];
    const steps = onOllama ? allSteps.filter((s) => !(s.pipeline in OLLAMA_SKIPS)) : allSteps;
    if (onOllama) {
      for (const [pipeline, why] of Object.entries(OLLAMA_SKIPS)) log(`  ${pipeline}: left out (${why})`);
    }
    for (const step of steps) reports[step.pipeline] = await runStep(cfg, client, step, uiBase, log);
    await client.connection.close();
  } finally {
    await workers.shutdown();
  }
  const all = Object.values(reports);
  const sum = (f: (r: Report) => number | undefined) => all.reduce((n, r) => n + (f(r) ?? 0), 0);
  const combined = {
    provider: { name: cfg.llmProvider, model: cfg.llmModel, url: onOllama ? cfg.llmBaseUrl : 'emulator' },
    runId: reports.evaluate?.runId,
    runs: Object.fromEntries(Object.entries(reports).map(([k, r]) => [k, r.runId])),
    succeeded: sum((r) => r.succeeded),
    failed: sum((r) => r.failed),
    llm: {
      calls: sum((r) => r.llm?.calls),
      rateLimited: sum((r) => r.llm?.rateLimited),
      cacheHits: sum((r) => r.llm?.cacheHits),
      promptTokens: sum((r) => r.llm?.promptTokens),
      completionTokens: sum((r) => r.llm?.completionTokens),
      costUsd: Math.round(sum((r) => r.llm?.costUsd) * 1e6) / 1e6,
      latencyMs: (reports.evaluate?.llm as { latencyMs?: unknown } | undefined)?.latencyMs,
    },
    makespanMs: Date.now() - started,
    reports,
  };
  log(
    `\ndone in ${(combined.makespanMs / 1000).toFixed(1)} s: ${combined.succeeded} items succeeded, ${combined.failed} failed, ${combined.llm.calls} LLM calls ($${combined.llm.costUsd}).`,
  );
  log('The stack keeps running for the UI; stop it with: npm run cli -- stack down');
  if (json) process.stdout.write(JSON.stringify(combined) + '\n');
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  },
);
