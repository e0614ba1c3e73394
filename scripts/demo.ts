// The demo: stack up, seed, run the label evaluation with in-process workers, print the report.
import { Runtime, DefaultLogger } from '@temporalio/worker';
import { loadConfig } from '../src/config';
import { parseArgs, boolFlag, numberFlag, assertKnownFlags } from '../src/cli/args';
import { formatReport } from '../src/client';
import { startRun, waitForRun } from '../src/cli/runs';
import { writeDataset } from '../src/cli/seed';
import { generateDataset } from '../src/domain/generator';
import { stackUp } from '../src/stack';
import { connectClient } from '../src/temporal';
import { startWorkers } from '../src/worker';
import type { EvaluationReport } from '../src/activities/evaluation';

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2), ['json']);
  assertKnownFlags(args, ['json', 'merchants', 'receipts', 'seed']);
  const json = boolFlag(args, 'json');
  const log = (s: string) => (json ? process.stderr : process.stdout).write(s + '\n');
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const cfg = loadConfig();

  log('1/4 bringing the embedded stack up (Temporal + UI, Chroma, dynalite, s3rver, LLM emulator)...');
  const up = await stackUp(cfg);
  for (const [name, s] of Object.entries(up.status))
    log(`    ${name.padEnd(11)} ${s.state.padEnd(8)} ${s.url ?? ''}`);

  const merchants = numberFlag(args, 'merchants', { min: 1, max: 100, int: true }) ?? 3;
  const receipts = numberFlag(args, 'receipts', { min: 1, max: 1000, int: true }) ?? 20;
  const seed = numberFlag(args, 'seed', { int: true }) ?? 42;
  log(`2/4 seeding ${merchants} merchants x ${receipts} receipts (seed ${seed}, 5% planted label errors)...`);
  const summary = await writeDataset(
    cfg,
    generateDataset({ merchants, receiptsPerMerchant: receipts, seed }),
  );
  log(`    ${summary.receipts} receipts, ${summary.words} words, ${summary.planted} planted errors`);

  log(`3/4 starting workers: pipeline + llm (global LLM cap ${cfg.LLM_MAX_CONCURRENT_CALLS})...`);
  const workers = await startWorkers(cfg, { queues: ['pipeline', 'llm'] });
  try {
    const client = await connectClient(cfg);
    const runId = await startRun(cfg, client, {
      pipeline: 'evaluate',
      workflowType: 'evaluateLabels',
      args: {},
    });
    const ui = `${up.status.temporalUi.url ?? `http://127.0.0.1:${cfg.TEMPORAL_UI_PORT}`}/namespaces/${cfg.TEMPORAL_NAMESPACE}/workflows/${runId}`;
    log(`4/4 label evaluation run ${runId}: watch it in the Temporal UI at\n    ${ui}`);
    const report = await waitForRun<EvaluationReport>(client, runId);
    log(formatReport(report as unknown as Record<string, unknown>));
    log(`\nThe stack keeps running for the UI; stop it with: npm run cli -- stack down`);
    if (json) process.stdout.write(JSON.stringify(report) + '\n');
    await client.connection.close();
  } finally {
    await workers.shutdown();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  },
);
