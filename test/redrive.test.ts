// End to end: redrive. A run with failures (invalid answers for part of it, or a provider that
// refuses our key), then `redrive`: the new run touches only the items that did not succeed and
// every item ends accounted for; a run id in use is refused.
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { EvaluationReport } from '../src/activities/evaluate';
import type { EnrichmentReport } from '../src/activities/enrich';
import type { HarmonizeReport } from '../src/activities/harmonize';
import type { QualityReport } from '../src/activities/analyze';
import { UsageError } from '../src/cli/args';
import { startRedrive } from '../src/cli/redrive';
import { writePlaces } from '../dev/seed';
import { createHarmonizationStores, createStores } from '../src/deps';
import { generatePlaces } from '../dev/generator/places';
import { startHarness, uniqueId, type Harness } from '../dev/harness/pipeline';

const MERCHANTS = 2;
const RECEIPTS_PER_MERCHANT = 15;
const PLACES = 20;

async function run<R>(h: Harness, workflow: string, input: Record<string, unknown>) {
  const runId = uniqueId(`${workflow}-`);
  const handle = await h.client.workflow.start(workflow, {
    taskQueue: h.cfg.TASK_QUEUE_PIPELINE,
    workflowId: runId,
    args: [{ runId, llmTaskQueue: h.cfg.TASK_QUEUE_LLM, ...input }],
  });
  const outcome: { report?: R; err?: unknown } = await handle.result().then(
    (r) => ({ report: r as R }),
    (err: unknown) => ({ err }),
  );
  return { runId, ...outcome };
}

async function redrive<R>(h: Harness, oldRunId: string) {
  const { runId } = await startRedrive(h.cfg, h.client, { oldRunId });
  const report = (await h.client.workflow.getHandle(runId).result()) as R;
  return { runId, report };
}

async function resultsOf(h: Harness, runId: string) {
  const results = await createStores(h.cfg).runs.listResults(runId);
  const ids = (status: string) => new Set(results.filter((r) => r.status === status).map((r) => r.itemId));
  return { succeeded: ids('SUCCEEDED'), failed: ids('FAILED'), all: new Set(results.map((r) => r.itemId)) };
}

describe('redrive', () => {
  let h: Harness;
  let receiptIds: string[];

  before(async () => {
    h = await startHarness({
      // Without repairs, an invalid answer fails its chunk (or place) for good.
      emulator: { malformedRate: 0.35, accuracy: 1 },
      env: { LLM_REPAIR_ATTEMPTS: '0', LLM_MAX_CONCURRENT_CALLS: '6' },
      dataset: { merchants: MERCHANTS, receiptsPerMerchant: RECEIPTS_PER_MERCHANT, seed: 61, errorRate: 0.3 },
    });
    receiptIds = h.dataset!.receipts.map((r) => r.receiptId);
    await writePlaces(h.cfg, generatePlaces({ count: PLACES, seed: 61 }));
  });
  after(async () => h?.close());

  test('an evaluation with failed receipts: the redrive reviews exactly those, and all end reviewed', async () => {
    h.emulator.updateSettings({ malformedRate: 0.35 });
    const first = await run<EvaluationReport>(h, 'evaluateLabels', {});
    assert.ok(first.report, String(first.err));
    const before = await resultsOf(h, first.runId);
    assert.ok(before.failed.size > 0, 'some receipts failed (invalid answers)');
    assert.equal(before.all.size, receiptIds.length);

    h.emulator.reset();
    h.emulator.updateSettings({ malformedRate: 0 });
    const second = await redrive<EvaluationReport>(h, first.runId);
    const after = await resultsOf(h, second.runId);
    assert.deepEqual(
      [...after.all].sort(),
      [...before.failed].sort(),
      'the redrive touched only the failed receipts',
    );
    assert.equal(after.failed.size, 0, JSON.stringify(second.report.failures));
    const accounted = new Set([...before.succeeded, ...after.succeeded]);
    assert.deepEqual(
      [...accounted].sort(),
      [...receiptIds].sort(),
      'every receipt reviewed once, by one run',
    );
    // Provider requests only for the failed receipts' chunks: at most what they had in the first run
    // (fewer when a chunk decided there leaves fewer issues, or is answered from the cache).
    const firstResults = await createStores(h.cfg).runs.listResults(first.runId);
    const failedReceiptChunks = firstResults
      .filter((r) => r.status === 'FAILED')
      .reduce((n, r) => n + Math.ceil(Number((r.detail as { issues?: number }).issues ?? 0) / 20), 0);
    const requests = h.emulator.metrics().requests;
    assert.ok(
      requests > 0 && requests <= failedReceiptChunks,
      `${requests} requests, ${failedReceiptChunks} chunks`,
    );
    assert.equal(second.report.llm.calls, requests);

    const { runs } = createStores(h.cfg);
    assert.equal((await runs.getRun(second.runId))?.redriveOf, first.runId);
    assert.deepEqual((await runs.getRun(first.runId))?.redrivenBy, [second.runId]);
  });

  test('a run stopped by a 401 is redriven over every receipt it did not finish', async () => {
    h.emulator.updateSettings({ malformedRate: 0, faultStatus: 401, faultRate: 1 });
    // --revalidate: the earlier runs' reviews corrected the planted labels (the seed's write-back), so
    // only a run that reviews the decided labels again has LLM calls for the 401 to stop.
    const stopped = await run<EvaluationReport>(h, 'evaluateLabels', { noCache: true, revalidate: true });
    assert.ok(stopped.err, 'the run failed');
    assert.equal((await createStores(h.cfg).runs.getRun(stopped.runId))?.status, 'FAILED');
    const before = await resultsOf(h, stopped.runId);
    assert.ok(before.all.size < receiptIds.length, 'receipts were never reached');

    h.emulator.updateSettings({ faultRate: 0 });
    const second = await redrive<EvaluationReport>(h, stopped.runId);
    const after = await resultsOf(h, second.runId);
    assert.equal(after.failed.size, 0, JSON.stringify(second.report.failures));
    for (const id of after.all) assert.ok(!before.succeeded.has(id), `${id} succeeded before: not redriven`);
    const accounted = new Set([...before.succeeded, ...after.succeeded]);
    assert.deepEqual([...accounted].sort(), [...receiptIds].sort());
  });

  test('an enrichment with failed places: the redrive enriches exactly those', async () => {
    h.emulator.updateSettings({ malformedRate: 0.35 });
    const first = await run<EnrichmentReport>(h, 'enrichPlaces', {});
    assert.ok(first.report, String(first.err));
    const before = await resultsOf(h, first.runId);
    assert.ok(before.failed.size > 0, 'some places failed');

    h.emulator.reset();
    h.emulator.updateSettings({ malformedRate: 0 });
    const second = await redrive<EnrichmentReport>(h, first.runId);
    const after = await resultsOf(h, second.runId);
    assert.deepEqual([...after.all].sort(), [...before.failed].sort());
    assert.equal(after.failed.size, 0);
    assert.equal(before.succeeded.size + after.succeeded.size, PLACES);
    assert.equal(h.emulator.metrics().requests, before.failed.size, 'one provider call per failed place');
  });

  test('a test-suite analysis with unanalyzed functions: the redrive analyzes exactly those', async () => {
    h.emulator.updateSettings({ malformedRate: 0.35, faultRate: 0 });
    const first = await run<QualityReport>(h, 'analyzeTestSuite', {
      path: path.resolve('test/fixtures/quality'),
    });
    assert.ok(first.report, String(first.err));
    const before = await resultsOf(h, first.runId);
    assert.ok(before.failed.size > 0, 'some functions unanalyzed');

    h.emulator.reset();
    h.emulator.updateSettings({ malformedRate: 0 });
    const second = await redrive<QualityReport>(h, first.runId);
    const after = await resultsOf(h, second.runId);
    assert.deepEqual([...after.all].sort(), [...before.failed].sort());
    assert.equal(after.failed.size, 0);
    assert.equal(before.succeeded.size + after.succeeded.size, first.report!.uncertain);
    assert.equal(
      h.emulator.metrics().requests,
      before.failed.size,
      'one provider call per unanalyzed function',
    );
    assert.deepEqual((await createStores(h.cfg).runs.getRun(first.runId))?.redrivenBy, [second.runId]);
  });

  test('a run id already in use is refused, and so is a run that does not exist', async () => {
    const first = await run<EvaluationReport>(h, 'evaluateLabels', { skipLlmReview: true });
    assert.ok(first.report);
    await assert.rejects(
      startRedrive(h.cfg, h.client, { oldRunId: first.runId, runId: first.runId }),
      (err: unknown) => err instanceof UsageError && /already used/.test(err.message),
    );
    await assert.rejects(
      startRedrive(h.cfg, h.client, { oldRunId: 'no-such-run' }),
      (err: unknown) => err instanceof UsageError && /No run no-such-run/.test(err.message),
    );
    await assert.rejects(
      startRedrive(h.cfg, h.client, { oldRunId: '../x' }),
      (err: unknown) => err instanceof UsageError && /has characters outside/.test(err.message),
    );
  });
});

describe('redrive of a label harmonization', { timeout: 5 * 60_000 }, () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({
      emulator: { malformedRate: 0.4, accuracy: 1 },
      env: {
        LLM_REPAIR_ATTEMPTS: '0',
        LLM_MAX_CONCURRENT_CALLS: '6',
        CHROMA_COLLECTION_PREFIX: `${uniqueId('hz')}-`,
      },
      dataset: { merchants: 2, receiptsPerMerchant: 10, seed: 62 },
    });
  });
  after(async () => {
    await h?.close();
    if (h) await createHarmonizationStores(h.cfg).chroma.deleteCollections();
  });

  test('only the groups with failed words run again; every word ends decided once', async () => {
    const first = await run<HarmonizeReport>(h, 'harmonizeLabels', {});
    assert.ok(first.report, String(first.err));
    const before = await resultsOf(h, first.runId);
    assert.ok(before.failed.size > 0, 'some words failed (invalid answers)');
    const groupOf = async (runId: string) =>
      new Set(
        (await createStores(h.cfg).runs.listResults(runId)).map((r) => {
          const d = r.detail as { merchantId: string; label: string };
          return `${d.merchantId}/${d.label}`;
        }),
      );
    const failedGroups = new Set(
      (await createStores(h.cfg).runs.listResults(first.runId))
        .filter((r) => r.status === 'FAILED')
        .map(
          (r) =>
            `${(r.detail as { merchantId: string }).merchantId}/${(r.detail as { label: string }).label}`,
        ),
    );

    h.emulator.reset();
    h.emulator.updateSettings({ malformedRate: 0 });
    const second = await redrive<HarmonizeReport>(h, first.runId);
    const after = await resultsOf(h, second.runId);
    assert.deepEqual(
      [...(await groupOf(second.runId))].sort(),
      [...failedGroups].sort(),
      'only those groups',
    );
    assert.equal(after.failed.size, 0);
    for (const id of before.failed) assert.ok(after.succeeded.has(id), `${id} decided by the redrive`);
    // Words decided in the first run come from the decision cache: requests only for the failed ones.
    const requests = h.emulator.metrics().requests;
    assert.ok(
      requests > 0 && requests <= before.failed.size,
      `${requests} requests, ${before.failed.size} failed words`,
    );
  });
});
