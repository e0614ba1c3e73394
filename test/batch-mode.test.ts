// End to end: `evaluate --mode batch` on the demo's data (3 merchants x 20 receipts, seed 42) against
// the emulator's OpenAI wire and Batch API: the same decisions as a realtime run at accuracy 1, at
// half its cost; its answers serve a later realtime run from the cache; requests a batch did not
// answer go realtime; and a pipeline worker killed (SIGKILL) mid-poll loses nothing.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import type { EvaluationReport } from '../src/activities/evaluate';
import { evaluateLabels, type EvaluateLabelsInput } from '../src/workflows/evaluate';
import type { EnrichmentReport } from '../src/activities/enrich';
import type { EnrichPlacesInput } from '../src/workflows/enrich';
import { writePlaces } from '../dev/seed';
import { createStores } from '../src/deps';
import { generatePlaces } from '../dev/generator/places';
import { LlmBatchJobStore } from '../src/stores/llm-batch-jobs';
import { freePort, startHarness, startRoot, uniqueId, type Harness } from '../dev/harness/pipeline';
import {
  KILLED_PIPELINE_WORKER_ENV,
  killAllWorkerProcesses,
  spawnWorker,
  type WorkerProcess,
} from '../dev/harness/worker-process';

const MERCHANTS = 3;
const RECEIPTS = MERCHANTS * 20;

async function batchHarness(opts: {
  batchCompleteAfterS: number;
  inProcessPipeline: boolean;
  env?: Record<string, string>;
}) {
  const port = await freePort();
  return startHarness({
    queues: opts.inProcessPipeline ? ['pipeline', 'llm'] : ['llm'],
    emulator: {
      port,
      accuracy: 1,
      maxConcurrency: 6,
      latencyMs: 20,
      batchCompleteAfterS: opts.batchCompleteAfterS,
    },
    env: {
      LLM_PROVIDER: 'openai',
      OPENAI_BASE_URL: `http://127.0.0.1:${port}/v1`,
      LLM_MAX_CONCURRENT_CALLS: '6',
      EMBED_POLL_INITIAL_MS: '300',
      EMBED_POLL_MAX_MS: '600',
      EMBED_HEARTBEAT_TIMEOUT_MS: '3000',
      EMBED_S3_PREFIX: `${uniqueId('bm')}/`,
      ...opts.env,
    },
    // The demo's dataset (scripts/demo.ts defaults).
    dataset: { merchants: MERCHANTS, receiptsPerMerchant: 20, seed: 42 },
  });
}

function startEvaluation(h: Harness, input: EvaluateLabelsInput) {
  // Labels kept as they are: every run asks exactly the same questions.
  return startRoot(h, evaluateLabels, 'bm-', { applySuggestedLabels: false, ...input });
}

async function runEvaluation(h: Harness, input: EvaluateLabelsInput): Promise<EvaluationReport> {
  return (await startEvaluation(h, input)).result() as Promise<EvaluationReport>;
}

/** wordId -> decision over every receipt of a run. */
async function decisionsOf(h: Harness, runId: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const r of await createStores(h.cfg).runs.listResults(runId)) {
    const reviews = (r.detail?.reviews ?? []) as Array<{ wordId: string; decision: string }>;
    for (const rev of reviews) out.set(rev.wordId, rev.decision);
  }
  return out;
}

const chatRequests = (h: Harness) => h.emulator.metrics().byEndpoint['/v1/chat/completions']?.requests ?? 0;

describe(`batch mode on the demo's data (${RECEIPTS} receipts), emulator at accuracy 1`, () => {
  let h: Harness;
  let realtime: EvaluationReport;
  let batch: EvaluationReport;
  let realtimeRequests: number;
  let batchRequests: number;

  before(async () => {
    h = await batchHarness({ batchCompleteAfterS: 2, inProcessPipeline: true });
    realtime = await runEvaluation(h, { noCache: true });
    realtimeRequests = chatRequests(h);
    h.emulator.reset();
    // The same questions again (--revalidate), all of them to the batch (--no-cache).
    batch = await runEvaluation(h, { mode: 'batch', revalidate: true, noCache: true });
    batchRequests = chatRequests(h);
    console.log(
      `realtime: ${JSON.stringify(realtime.decisions)} $${realtime.llm.costUsd} (${realtime.llm.calls} calls); ` +
        `batch: ${JSON.stringify(batch.decisions)} $${batch.llm.costUsd} ${JSON.stringify(batch.batch)}`,
    );
  });
  after(async () => h?.close());

  test('every receipt is reviewed, with the same decisions as the realtime run', async () => {
    assert.equal(realtime.succeeded, RECEIPTS, JSON.stringify(realtime.failures));
    assert.equal(batch.succeeded, RECEIPTS, JSON.stringify(batch.failures));
    assert.equal(batch.mode, 'batch');
    assert.equal(realtime.mode, 'realtime');
    assert.ok(realtime.issuesFound > 0 && realtime.llm.calls > 0);
    assert.deepEqual(batch.decisions, realtime.decisions);
    const [a, b] = await Promise.all([decisionsOf(h, realtime.runId), decisionsOf(h, batch.runId)]);
    assert.equal(b.size, a.size);
    assert.deepEqual([...b.entries()].sort(), [...a.entries()].sort());
  });

  test('the batch answered every prompt: no realtime request, costUsd half the realtime run', () => {
    assert.ok(realtimeRequests > 0);
    assert.equal(batchRequests, 0, 'no realtime chat completion in batch mode');
    assert.equal(batch.batch?.realtimeCalls, 0);
    assert.equal(batch.batch?.batchAnswers, realtime.llm.calls);
    assert.equal(batch.llm.promptTokens, realtime.llm.promptTokens);
    assert.equal(batch.llm.completionTokens, realtime.llm.completionTokens);
    assert.ok(batch.llm.costUsd > 0);
    assert.ok(
      Math.abs(batch.llm.costUsd - realtime.llm.costUsd / 2) <= 2e-6,
      `batch $${batch.llm.costUsd} vs realtime $${realtime.llm.costUsd}`,
    );
  });

  test('a later realtime run of the same prompts is served from the cache the batch wrote', async () => {
    h.emulator.reset();
    const again = await runEvaluation(h, { revalidate: true });
    assert.equal(again.succeeded, RECEIPTS);
    assert.equal(chatRequests(h), 0);
    assert.equal(again.llm.calls, 0);
    assert.deepEqual(again.decisions, realtime.decisions);
  });

  test('requests an expired batch did not answer are called realtime, under the cap', async () => {
    h.emulator.reset();
    h.emulator.updateSettings({ batchExpireRate: 1, batchPartialRate: 0.5 });
    try {
      // Chunks of 15 issues: prompts no earlier run cached, so only this batch can answer them.
      const expired = await runEvaluation(h, {
        mode: 'batch',
        revalidate: true,
        noCache: true,
        reviewChunkSize: 15,
      });
      assert.equal(expired.succeeded, RECEIPTS, JSON.stringify(expired.failures));
      assert.deepEqual(expired.decisions, realtime.decisions);
      const b = expired.batch!;
      assert.ok(b.batchAnswers > 0 && b.realtimeCalls > 0, JSON.stringify(b));
      // (Receipts with at most 15 issues ask what the first run asked: the cache may answer those too.)
      assert.ok(expired.llm.cacheHits >= b.batchAnswers, `${expired.llm.cacheHits} hits`);
      assert.equal(chatRequests(h), b.realtimeCalls);
      assert.ok(b.realtimeCostUsd > 0 && b.batchCostUsd > 0);
      assert.ok(h.emulator.metrics().inFlightMax <= 6);
    } finally {
      h.emulator.updateSettings({ batchExpireRate: 0, batchPartialRate: 0 });
    }
  });
});

describe('batch mode: the pipeline worker killed (SIGKILL) mid-poll', () => {
  let h: Harness;
  let worker: WorkerProcess | undefined;

  before(async () => {
    h = await batchHarness({
      batchCompleteAfterS: 8,
      inProcessPipeline: false,
      env: KILLED_PIPELINE_WORKER_ENV,
    });
  });
  after(async () => {
    killAllWorkerProcesses();
    await h?.close();
  });

  test('the run resumes on a new worker: one batch created, every prompt answered by it', async () => {
    worker = spawnWorker(h.env, ['pipeline']);
    await worker.ready;
    const handle = await startEvaluation(h, { mode: 'batch', noCache: true });
    const runId = handle.workflowId;
    const jobs = new LlmBatchJobStore(createStores(h.cfg).receipts);
    // Wait until the job's batch id is recorded and the poll workflow has polled it at least once.
    const pollId = `${runId}/llm-batch-00000`;
    for (;;) {
      const job = await jobs.get(runId, 0);
      if (job?.state === 'SUBMITTED') {
        const polls = await h.client.workflow
          .getHandle(pollId)
          .query<{ polls: number }>('llmBatchJob')
          .then((p) => p.polls)
          .catch(() => 0);
        if (polls >= 1) break;
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    worker.kill('SIGKILL');
    await worker.exited;
    worker = spawnWorker(h.env, ['pipeline']);
    await worker.ready;
    const report = (await handle.result()) as EvaluationReport;
    assert.equal(report.succeeded, RECEIPTS, JSON.stringify(report.failures));
    const openai = new OpenAI({ baseURL: `${h.emulator.url}/v1`, apiKey: 'emulator', maxRetries: 0 });
    const batches = (await openai.batches.list({ limit: 100 })).data;
    assert.equal(batches.length, 1, 'the batch was created once');
    assert.equal(report.batch?.realtimeCalls, 0, JSON.stringify(report.batch));
    assert.ok((report.batch?.batchAnswers ?? 0) > 0);
    assert.equal(chatRequests(h), 0);
    const job = await jobs.get(runId, 0);
    assert.equal(job?.state, 'PROCESSED');
    assert.equal(job?.outcome?.answered, job?.requests);
  });
});

describe("enrich --mode batch on the demo's places (20, seed 42)", () => {
  let h: Harness;

  before(async () => {
    h = await batchHarness({ batchCompleteAfterS: 2, inProcessPipeline: true });
    await writePlaces(h.cfg, generatePlaces({ count: 20, seed: 42 }));
  });
  after(async () => h?.close());

  const enrich = async (input: EnrichPlacesInput) => {
    const runId = uniqueId('bme-');
    return (await h.client.workflow.execute('enrichPlaces', {
      taskQueue: h.cfg.TASK_QUEUE_PIPELINE,
      workflowId: runId,
      args: [{ runId, llmTaskQueue: h.cfg.TASK_QUEUE_LLM, ...input }],
    })) as EnrichmentReport;
  };
  const detailsOf = async (runId: string) =>
    (await createStores(h.cfg).runs.listResults(runId))
      .map((r) => [r.itemId, r.status, JSON.stringify(r.detail)])
      .sort();

  test('every place enriched as realtime does, at half the cost, no realtime request', async () => {
    const realtime = await enrich({ noCache: true });
    h.emulator.reset();
    const batch = await enrich({ mode: 'batch', noCache: true });
    console.log(
      `enrich realtime $${realtime.llm.costUsd} (${realtime.llm.calls} calls); batch $${batch.llm.costUsd} ${JSON.stringify(batch.batch)}`,
    );
    assert.equal(batch.mode, 'batch');
    assert.equal(batch.succeeded, 20, JSON.stringify(batch.failures));
    assert.equal(realtime.succeeded, 20);
    assert.deepEqual(await detailsOf(batch.runId), await detailsOf(realtime.runId));
    assert.deepEqual(batch.accuracy, realtime.accuracy);
    assert.equal(chatRequests(h), 0);
    assert.equal(batch.batch?.batchAnswers, realtime.llm.calls);
    assert.ok(batch.llm.costUsd > 0);
    assert.ok(Math.abs(batch.llm.costUsd - realtime.llm.costUsd / 2) <= 2e-6);
  });
});
