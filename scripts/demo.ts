// The demo: stack up, seed, run every pipeline that exists with in-process workers, print reports.
import fs from 'node:fs/promises';
import path from 'node:path';
import { Runtime, DefaultLogger } from '@temporalio/worker';
import type { Client } from '@temporalio/client';
import { loadConfig, type AppConfig } from '../src/config';
import { parseArgs, boolFlag, numberFlag, assertKnownFlags } from '../src/cli/args';
import { formatReport } from '../src/client';
import { startRun, waitForRun } from '../src/cli/runs';
import { writeDataset, writePlaces } from '../src/cli/seed';
import { generateDataset } from '../src/domain/generator';
import { generatePlaces } from '../src/domain/places';
import type { Truth } from '../src/domain/llm-tasks';
import { stackUp } from '../src/stack';
import { mergeTruth } from '../src/stores/truth';
import { connectClient } from '../src/temporal';
import { startWorkers } from '../src/worker';

interface Step {
  pipeline: string;
  workflowType: string;
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
    workflowType: step.workflowType,
    args: step.args,
  });
  log(`  ${step.title}: run ${runId}\n    ${uiBase}/${runId}`);
  const report = await waitForRun<Report>(client, runId);
  log(formatReport(report).replace(/^/gm, '    '));
  return report;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2), ['json']);
  assertKnownFlags(args, ['json', 'merchants', 'receipts', 'seed', 'places']);
  const json = boolFlag(args, 'json');
  const log = (s: string) => (json ? process.stderr : process.stdout).write(s + '\n');
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  // The demo's batches complete within seconds (the emulator), so poll them every 2 s, not every 30 s.
  const cfg = loadConfig({ EMBED_POLL_INITIAL_MS: '2000', EMBED_POLL_MAX_MS: '5000', ...process.env });
  const started = Date.now();

  log('1/4 bringing the embedded stack up (Temporal + UI, Chroma, dynalite, s3rver, LLM emulator)...');
  const up = await stackUp(cfg);
  for (const [name, s] of Object.entries(up.status))
    log(`    ${name.padEnd(11)} ${s.state.padEnd(8)} ${s.url ?? ''}`);

  const merchants = numberFlag(args, 'merchants', { min: 1, max: 100, int: true }) ?? 3;
  const receipts = numberFlag(args, 'receipts', { min: 1, max: 1000, int: true }) ?? 20;
  const places = numberFlag(args, 'places', { min: 1, max: 1000, int: true }) ?? 20;
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

  log(`3/4 starting workers: pipeline + llm (global LLM cap ${cfg.LLM_MAX_CONCURRENT_CALLS})...`);
  const workers = await startWorkers(cfg, { queues: ['pipeline', 'llm'] });
  const reports: Record<string, Report> = {};
  try {
    const client = await connectClient(cfg);
    const uiBase = `${up.status.temporalUi.url ?? `http://127.0.0.1:${cfg.TEMPORAL_UI_PORT}`}/namespaces/${cfg.TEMPORAL_NAMESPACE}/workflows`;
    log('4/4 running the pipelines (watch them in the Temporal UI):');
    const steps: Step[] = [
      {
        pipeline: 'evaluate',
        workflowType: 'evaluateLabels',
        title: 'label evaluation (seed 000)',
        args: {},
      },
      {
        pipeline: 'harmonize',
        workflowType: 'harmonizeLabels',
        title: 'label harmonization (seed 001)',
        args: {},
      },
      {
        pipeline: 'embed',
        workflowType: 'embedBackfill',
        title: 'line and word embeddings via the Batch API (seed 003)',
        args: {},
      },
      { pipeline: 'enrich', workflowType: 'enrichPlaces', title: 'place enrichment (seed 004)', args: {} },
      {
        pipeline: 'analyze',
        workflowType: 'analyzeTestSuite',
        title: 'test-suite quality (seed 002)',
        args: { path: qualityDir },
      },
    ];
    for (const step of steps) reports[step.pipeline] = await runStep(cfg, client, step, uiBase, log);
    await client.connection.close();
  } finally {
    await workers.shutdown();
  }
  const all = Object.values(reports);
  const sum = (f: (r: Report) => number | undefined) => all.reduce((n, r) => n + (f(r) ?? 0), 0);
  const combined = {
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
