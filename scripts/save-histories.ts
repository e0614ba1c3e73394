// Records workflow histories for the replay test (test/replay.test.ts): runs a tiny label evaluation,
// place enrichment, test-suite analysis, label harmonization and embedding on the embedded stack and
// saves one history per workflow type (and outcome) as proto JSON to
// test/fixtures/histories/<workflowType>-<n>.json, n = the next free number, so histories of older
// workflow code stay and keep guarding determinism. `npx tsx scripts/save-histories.ts
// [--pipelines evaluate,enrich,analyze,harmonize,embed,batch] [--replace]` (--replace first deletes the
// saved histories). Commit the files it writes.
import fs from 'node:fs';
import path from 'node:path';
import * as prettier from 'prettier';
import {
  HISTORIES_DIR,
  SMALL_RUN_HARNESS,
  collectHistories,
  historyFileText,
  runSmallEvaluation,
  startedWorkflowId,
} from '../dev/harness/histories';
import { embedHarnessEnv } from '../dev/harness/embed-harness';
import { freePort, startHarness, uniqueId, type Harness } from '../dev/harness/pipeline';
import type { RecordedHistory } from '../dev/harness/histories';
import { writePlaces } from '../dev/seed';
import { generatePlaces } from '../dev/generator/places';
import { createEmbeddingDeps, createHarmonizationStores } from '../src/deps';
import { ChromaStore } from '../src/stores/chroma';
import type { Workflow } from '@temporalio/common';
import {
  analyzeTestSuite,
  embedBackfill,
  enrichPlaces,
  evaluateLabels,
  harmonizeLabels,
} from '../src/workflows';

function nextFile(workflowType: string): string {
  for (let n = 1; ; n++) {
    const file = path.join(HISTORIES_DIR, `${workflowType}-${n}.json`);
    if (!fs.existsSync(file)) return file;
  }
}

async function save(records: RecordedHistory[]): Promise<number> {
  let total = 0;
  for (const rec of records) {
    // Replay needs the workflow id (child ids derive from it); the started event must carry it.
    startedWorkflowId(rec.history, rec.workflowId);
    const file = nextFile(rec.workflowType);
    // Formatted as `npm run lint` (prettier --check) expects.
    const options = (await prettier.resolveConfig(file)) ?? {};
    const text = await prettier.format(historyFileText(rec.history), { ...options, filepath: file });
    fs.writeFileSync(file, text);
    total += text.length;
    console.log(
      `${path.relative(process.cwd(), file)}  ${rec.history.events?.length ?? 0} events, ` +
        `${(text.length / 1024).toFixed(1)} KB  (${rec.note})`,
    );
  }
  return total;
}

/** Runs a root workflow to its end on the harness's pipeline queue; `runId` is its workflow id. */
async function runRoot<R>(
  h: Harness,
  workflow: Workflow,
  prefix: string,
  input: Record<string, unknown>,
): Promise<{ runId: string; report: R }> {
  const runId = uniqueId(prefix);
  const report = (await h.client.workflow.execute(workflow, {
    taskQueue: h.cfg.TASK_QUEUE_PIPELINE,
    workflowId: runId,
    args: [{ runId, llmTaskQueue: h.cfg.TASK_QUEUE_LLM, ...input }],
  })) as R;
  return { runId, report };
}

/** The first run (which continued as new) and the last run of a root workflow. */
async function firstAndLast(
  h: Harness,
  workflowType: string,
  workflowId: string,
): Promise<RecordedHistory[]> {
  const last = await h.client.workflow.getHandle(workflowId).describe();
  const firstRunId = last.raw.workflowExecutionInfo?.firstRunId;
  if (!firstRunId || firstRunId === last.runId) throw new Error(`${workflowId} did not continue as new`);
  const out: RecordedHistory[] = [];
  for (const [runId, note] of [
    [firstRunId, 'first run, continued as new'],
    [last.runId, 'last run, completed'],
  ] as const) {
    const handle = h.client.workflow.getHandle(workflowId, runId);
    out.push({ workflowType, note, workflowId, runId, history: await handle.fetchHistory() });
  }
  return out;
}

async function evaluate(): Promise<number> {
  const h = await startHarness(SMALL_RUN_HARNESS);
  let total = 0;
  try {
    const report = await runSmallEvaluation(h);
    if (report.total !== 4 || report.succeeded !== 3 || report.failed !== 1)
      throw new Error(`unexpected run outcome, not saving: ${JSON.stringify(report)}`);
    total = await save(await collectHistories(h, report));
    console.log(`saved ${(total / 1024).toFixed(1)} KB of histories from run ${report.runId}`);
  } finally {
    await h.close();
  }
  return total + (await evaluateRootContinued());
}

/** 2 merchants of 1 receipt, rules only: the root continues as new after its first merchant. */
async function evaluateRootContinued(): Promise<number> {
  const h = await startHarness({
    emulator: { accuracy: 1 },
    dataset: { merchants: 2, receiptsPerMerchant: 1, seed: 5 },
  });
  try {
    const { runId, report } = await runRoot<{ succeeded: number }>(h, evaluateLabels, 'eval-can-', {
      skipLlmReview: true,
      widths: { merchants: 1 },
      continueAsNewAfterMerchants: 1,
    });
    if (report.succeeded !== 2)
      throw new Error(`unexpected run outcome, not saving: ${JSON.stringify(report)}`);
    return await save(await firstAndLast(h, 'evaluateLabels', runId));
  } finally {
    await h.close();
  }
}

/** Batch mode: 1 merchant of 2 receipts; the root (mode batch) and its job's poll workflow. */
async function batch(): Promise<number> {
  const port = await freePort();
  const h = await startHarness({
    emulator: { port, accuracy: 1, batchCompleteAfterS: 1 },
    env: {
      LLM_PROVIDER: 'openai',
      OPENAI_BASE_URL: `http://127.0.0.1:${port}/v1`,
      EMBED_POLL_INITIAL_MS: '300',
      EMBED_POLL_MAX_MS: '300',
      EMBED_S3_PREFIX: `${uniqueId('hist')}/`,
    },
    dataset: { merchants: 1, receiptsPerMerchant: 2, seed: 42 },
  });
  try {
    const { runId, report } = await runRoot<{ succeeded: number; batch?: { batchAnswers: number } }>(
      h,
      evaluateLabels,
      'eval-batch-',
      { mode: 'batch' },
    );
    if (report.succeeded !== 2 || !report.batch?.batchAnswers)
      throw new Error(`unexpected run outcome, not saving: ${JSON.stringify(report)}`);
    const out: RecordedHistory[] = [];
    for (const [workflowType, workflowId, note] of [
      ['evaluateLabels', runId, 'root run in batch mode'],
      ['pollLlmBatchJob', `${runId}/llm-batch-00000`, 'batch job submitted, polled, processed'],
    ] as const) {
      const handle = h.client.workflow.getHandle(workflowId);
      const { runId: run } = await handle.describe();
      out.push({ workflowType, note, workflowId, runId: run, history: await handle.fetchHistory() });
    }
    return await save(out);
  } finally {
    await h.close();
  }
}

/** 5 places in batches of 2, continuing as new after 2 batches. */
async function enrich(): Promise<number> {
  const h = await startHarness({ emulator: { accuracy: 1, latencyMs: 5 } });
  try {
    await writePlaces(h.cfg, generatePlaces({ count: 5, seed: 4 }));
    const { runId, report } = await runRoot<{ succeeded: number }>(h, enrichPlaces, 'enrich-', {
      batchSize: 2,
      continueAsNewAfterBatches: 2,
    });
    if (report.succeeded !== 5)
      throw new Error(`unexpected run outcome, not saving: ${JSON.stringify(report)}`);
    return await save(await firstAndLast(h, 'enrichPlaces', runId));
  } finally {
    await h.close();
  }
}

/** The 12 files under test/fixtures/quality/api, 10 uncertain functions a page, one page a run. */
async function analyze(): Promise<number> {
  const h = await startHarness({ emulator: { accuracy: 1, latencyMs: 5 } });
  try {
    const { runId, report } = await runRoot<{ status: string; total: number }>(
      h,
      analyzeTestSuite,
      'analyze-',
      {
        path: path.resolve(__dirname, '../test/fixtures/quality/api'),
        pageSize: 10,
        continueAsNewAfterPages: 1,
      },
    );
    if (report.status !== 'COMPLETED' || report.total <= 10)
      throw new Error(`unexpected run outcome, not saving: ${JSON.stringify(report)}`);
    return await save(await firstAndLast(h, 'analyzeTestSuite', runId));
  } finally {
    await h.close();
  }
}

/** 1 merchant, 2 label types: the root continues as new after its first group. */
async function harmonize(): Promise<number> {
  const h = await startHarness({
    emulator: { accuracy: 1, latencyMs: 5 },
    env: { CHROMA_COLLECTION_PREFIX: `${uniqueId('hist')}-` },
    dataset: { merchants: 1, receiptsPerMerchant: 8, seed: 7 },
  });
  try {
    const { runId, report } = await runRoot<{ words: number; succeeded: number }>(h, harmonizeLabels, 'hz-', {
      merchantIds: ['m-0001'],
      labelTypes: ['TAX', 'GRAND_TOTAL'],
      continueAsNewAfterGroups: 1,
      widths: { groups: 1 },
    });
    if (report.words === 0 || report.succeeded !== report.words)
      throw new Error(`unexpected run outcome, not saving: ${JSON.stringify(report)}`);
    const groupId = `${runId}/m-0001/TAX`;
    const group: RecordedHistory = {
      workflowType: 'harmonizeGroup',
      note: 'group of one (merchant, label)',
      workflowId: groupId,
      runId: (await h.client.workflow.getHandle(groupId).describe()).runId,
      history: await h.client.workflow.getHandle(groupId).fetchHistory(),
    };
    return await save([...(await firstAndLast(h, 'harmonizeLabels', runId)), group]);
  } finally {
    await h.close();
    await createHarmonizationStores(h.cfg).chroma.deleteCollections();
  }
}

/** 3 receipts' lines and words through the emulator's Batch API: backfill, one poller, the compactor. */
async function embed(): Promise<number> {
  const port = await freePort();
  const tag = uniqueId('hist');
  const h = await startHarness({
    emulator: { port, batchCompleteAfterS: 1, embeddingDim: 64 },
    env: embedHarnessEnv({ port, tag }),
    dataset: { merchants: 1, receiptsPerMerchant: 3, seed: 5 },
  });
  try {
    const { runId, report } = await runRoot<{ total: number; succeeded: number }>(
      h,
      embedBackfill,
      'embed-',
      {},
    );
    if (report.total === 0 || report.succeeded !== report.total)
      throw new Error(`unexpected run outcome, not saving: ${JSON.stringify(report)}`);
    const records: RecordedHistory[] = [];
    for (const [workflowType, workflowId, note] of [
      ['embedBackfill', runId, 'backfill of lines and words, waited for its batches'],
      ['pollEmbeddingBatch', `embed-poll/${runId}/line-00000`, 'poller of a batch that completed'],
      ['compactEmbeddings', h.cfg.EMBED_COMPACTOR_ID, 'compactor that applied the deltas'],
    ] as const) {
      const handle = h.client.workflow.getHandle(workflowId);
      const desc = await handle.describe();
      records.push({
        workflowType,
        note,
        workflowId,
        runId: desc.runId,
        history: await handle.fetchHistory(),
      });
    }
    return await save(records);
  } finally {
    await h.close();
    await new ChromaStore({ url: h.cfg.chromaUrl, prefix: h.cfg.CHROMA_COLLECTION_PREFIX })
      .deleteCollections()
      .catch(() => undefined);
    const { objects } = createEmbeddingDeps(h.cfg);
    for (const key of await objects.list(h.cfg.EMBED_S3_PREFIX).catch(() => [])) await objects.delete(key);
  }
}

async function main(): Promise<void> {
  const replace = process.argv.includes('--replace');
  const i = process.argv.indexOf('--pipelines');
  const pipelines = (i >= 0 ? (process.argv[i + 1] ?? '') : 'evaluate,enrich,analyze,harmonize,embed').split(
    ',',
  );
  const known: Record<string, () => Promise<number>> = { evaluate, enrich, analyze, harmonize, embed, batch };
  const unknown = pipelines.filter((p) => !known[p]);
  if (unknown.length)
    throw new Error(
      `unknown pipelines: ${unknown.join(', ')} (known: evaluate, enrich, analyze, harmonize, embed, batch)`,
    );
  fs.mkdirSync(HISTORIES_DIR, { recursive: true });
  if (replace) {
    for (const f of fs.readdirSync(HISTORIES_DIR)) {
      if (f.endsWith('.json')) fs.rmSync(path.join(HISTORIES_DIR, f));
    }
  }
  for (const p of pipelines) await known[p]!();
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
