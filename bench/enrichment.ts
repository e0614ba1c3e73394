// `npx tsx bench/enrichment.ts [--places N] [--json]`: seed 004's enrichment design (3 LLM calls
// per place, each with the full reviews, each task querying the reviews itself, no cache) against
// ours (one batched read per batch, one combined JSON prompt per place, cache) on the same seeded
// places and the same emulated provider. Token counts are the emulator's (a real BPE tokenizer).
// Prints a table and writes its section of docs/BENCHMARKS.md.
import os from 'node:os';
import path from 'node:path';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import type { Client } from '@temporalio/client';
import { z } from 'zod';
import { loadConfig, type AppConfig } from '../src/config';
import type { EnrichmentReport } from '../src/activities/enrich';
import { writePlaces } from '../dev/seed';
import { createStores } from '../src/deps';
import { SEED_ENRICHMENT_TASKS, seedEnrichmentMessages } from '../src/domain/place-prompts';
import { generatePlaces } from '../dev/generator/places';
import { startEmulator, type EmulatorHandle } from '../dev/emulator/server';
import { createProvider } from '../src/llm/providers';
import { PlaceStore } from '../src/stores/places';
import { ensureTable } from '../src/stores/provision';
import { connectClient } from '../src/temporal';
import { startWorkers } from '../src/worker';
import type { EnrichPlacesInput } from '../src/workflows/enrich';
import { ensureStack } from '../dev/harness/stack';
import { workflowBundle } from '../dev/harness/pipeline';
import { writeSection } from './markdown-section';
import { enrichPlaces } from '../src/workflows';

const LATENCY_MS = 300;
const CAP = 10;
/** The seed's estimate: ~6,000 tokens per gym before, ~2,500 after (-58%). */
const SEED_CLAIM = { before: 6000, after: 2500 };

interface Row {
  design: string;
  places: number;
  requests: number;
  promptTokens: number;
  completionTokens: number;
  dbReadsPerPlace: string;
  makespanMs: number;
  enriched: number;
}

const log = (s: string) => process.stderr.write(s + '\n');

/**
 * The seed's Celery design: per place a group of 3 tasks (description, amenities, women-only hours
 * + French hours), each querying the place's reviews and sending them all in its own prompt; the
 * worker pool runs 10 tasks at once.
 */
async function runSeedDesign(
  cfg: AppConfig,
  placeIds: string[],
): Promise<{ makespanMs: number; ok: number; reads: number }> {
  const provider = createProvider(cfg);
  const store = new PlaceStore(createStores(cfg).receipts);
  const tasks = placeIds.flatMap((placeId) => SEED_ENRICHMENT_TASKS.map((task) => ({ placeId, task })));
  const jsonSchemas = new Map(
    SEED_ENRICHMENT_TASKS.map((t) => {
      const { $schema: _s, ...schema } = z.toJSONSchema(t.schema, { target: 'draft-7' });
      return [t.name, schema as Record<string, unknown>];
    }),
  );
  let next = 0;
  let ok = 0;
  let reads = 0;
  const started = Date.now();
  const lane = async () => {
    while (next < tasks.length) {
      const { placeId, task } = tasks[next++]!;
      const data = (await store.readPlaces([placeId])).get(placeId);
      reads++;
      if (!data) continue;
      const place = { ...data.meta, reviews: data.reviews };
      const res = await provider.chat({
        model: cfg.llmModel,
        messages: seedEnrichmentMessages(place, task),
        jsonSchema: jsonSchemas.get(task.name)!,
        schemaName: task.name,
      });
      if (res.content) ok++;
    }
  };
  await Promise.all(Array.from({ length: CAP }, lane));
  return { makespanMs: Date.now() - started, ok, reads };
}

async function runOurs(cfg: AppConfig, client: Client, input: EnrichPlacesInput): Promise<EnrichmentReport> {
  const runId = `bench-enrich-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 6)}`;
  return (await client.workflow.execute(enrichPlaces, {
    taskQueue: cfg.TASK_QUEUE_PIPELINE,
    workflowId: runId,
    args: [{ runId, llmTaskQueue: cfg.TASK_QUEUE_LLM, ...input }],
  })) as EnrichmentReport;
}

function metricsRow(
  e: EmulatorHandle,
  design: string,
  places: number,
  rest: Pick<Row, 'dbReadsPerPlace' | 'makespanMs' | 'enriched'>,
): Row {
  const m = e.metrics();
  return {
    design,
    places,
    requests: m.requests,
    promptTokens: m.promptTokens,
    completionTokens: m.completionTokens,
    ...rest,
  };
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const json = argv.includes('--json');
  const i = argv.indexOf('--places');
  const count = i >= 0 ? Number(argv[i + 1]) : 40;
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  // Other processes on the machine skew makespans; the table says how busy it was.
  const loadAtStart = os.loadavg()[0]!.toFixed(1);
  await ensureStack();
  const id = Date.now().toString(36);
  const truthFile = path.join(os.tmpdir(), `bench-enrich-truth-${id}.json`);
  const emulator = await startEmulator({
    port: 0,
    latencyMs: LATENCY_MS,
    jitterMs: 50,
    accuracy: 1,
    truthFile,
  });
  const env = {
    DYNAMODB_TABLE: `bench-enrich-${id}`,
    TASK_QUEUE_PIPELINE: `bench-enrich-pipeline-${id}`,
    TASK_QUEUE_LLM: `bench-enrich-llm-${id}`,
    OLLAMA_HOST: emulator.url,
    TRUTH_FILE: truthFile,
    LLM_PERMIT_LEASE_MS: '10000',
    LLM_MAX_CONCURRENT_CALLS: String(CAP),
  };
  const cfg = loadConfig({ ...process.env, ...env });
  await ensureTable(cfg);
  const ds = generatePlaces({ count, seed: 2026 });
  await writePlaces(cfg, ds);
  const placeIds = ds.places.map((p) => p.placeId);
  log(`bench enrichment: ${count} places, ${LATENCY_MS} ms per call, ${CAP} at once`);
  const rows: Row[] = [];

  emulator.reset();
  log('  seed design (3 calls per place) ...');
  const seed = await runSeedDesign(cfg, placeIds);
  rows.push(
    metricsRow(emulator, 'seed design: 3 prompts per place, full reviews each', count, {
      dbReadsPerPlace: String(seed.reads / count),
      makespanMs: seed.makespanMs,
      enriched: seed.ok / SEED_ENRICHMENT_TASKS.length,
    }),
  );

  const client = await connectClient(cfg);
  const workers = await startWorkers(cfg, {
    queues: ['pipeline', 'llm'],
    workflowBundle: await workflowBundle(),
  });
  emulator.reset();
  log('  ours (one combined prompt per place) ...');
  const ours = await runOurs(cfg, client, { noCache: true });
  rows.push(
    metricsRow(emulator, 'ours: one combined JSON prompt per place', count, {
      dbReadsPerPlace: `1 (${Math.ceil(count / 10)} batched reads)`,
      makespanMs: ours.makespanMs,
      enriched: ours.placesEnriched,
    }),
  );
  emulator.reset();
  log('  ours, rerun ...');
  const rerun = await runOurs(cfg, client, {});
  rows.push(
    metricsRow(emulator, 'ours, rerun (LLM cache)', count, {
      dbReadsPerPlace: `1 (${Math.ceil(count / 10)} batched reads)`,
      makespanMs: rerun.makespanMs,
      enriched: rerun.placesEnriched,
    }),
  );
  await workers.shutdown();
  await client.connection.close();
  await emulator.close();

  const per = (n: number, places: number) => Math.round(n / places);
  const table = [
    `| design | LLM calls per place | prompt tokens per place | completion tokens per place | DB reads per place | makespan s | places enriched |`,
    `|---|---|---|---|---|---|---|`,
    ...rows.map(
      (r) =>
        `| ${r.design} | ${(r.requests / r.places).toFixed(2)} | ${per(r.promptTokens, r.places)} | ${per(r.completionTokens, r.places)} | ${r.dbReadsPerPlace} | ${(r.makespanMs / 1000).toFixed(1)} | ${r.enriched}/${r.places} |`,
    ),
  ].join('\n');
  const [s, o] = [rows[0]!, rows[1]!];
  const promptCut = 1 - o.promptTokens / s.promptTokens;
  const summary = `prompt tokens per place: ${per(s.promptTokens, count)} -> ${per(o.promptTokens, count)} (${(-promptCut * 100).toFixed(0)}%; the seed claimed ${SEED_CLAIM.before} -> ${SEED_CLAIM.after}, -58%); LLM calls per place: ${(s.requests / count).toFixed(0)} -> ${(o.requests / count).toFixed(0)}`;
  console.log(table);
  console.log(summary);
  await writeSection(
    'enrichment',
    `## Enrichment (seed 004): 3 calls per place vs one combined prompt

\`npx tsx bench/enrichment.ts\` on ${new Date().toISOString().slice(0, 10)}, ${os.cpus().length} cores (load average ${loadAtStart}): ${count} seeded places
(${ds.places.reduce((n, p) => n + p.reviews.length, 0)} reviews), the in-process emulator (latency ${LATENCY_MS} ms ± 50),
${CAP} calls at once in both designs. Tokens are the emulator's counts (o200k BPE plus per-message overhead).

${table}

${summary}.

- The seed design runs in plain Node (\`bench/enrichment.ts\`): per place three tasks (description; amenities;
  women-only hours + French hours), each reading the place's reviews itself and sending all of them in its own
  prompt, no cache. Its prompts carry no item envelope, so the emulator answers them with schema-valid filler:
  its completion tokens are indicative only.
- Ours is the \`enrichPlaces\` workflow: one batched read per 10 places, one combined prompt per place (the
  reviews once), zod-validated; the rerun is answered by the LLM cache (no provider request).
`,
  );
  if (json) console.log(JSON.stringify({ rows, promptCut }));
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
