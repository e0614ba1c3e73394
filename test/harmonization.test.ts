// End to end: the label harmonizer on the real stack (Temporal, dynalite, s3rver, a real Chroma
// server with collections of its own), real workers, the emulator's oracle at accuracy 1.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from '@temporalio/worker';
import type { HarmonizeReport } from '../src/activities/harmonize';
import { createHarmonizationStores, createStores } from '../src/deps';
import { wordEmbeddingText } from '../src/domain/embedding-text';
import { harmonize, harmonizerHarness, labelledWords, startHarmonize } from './helpers/harmonize-harness';
import { workflowBundle, type Harness } from '../dev/harness/pipeline';

describe('label harmonization, 2 merchants x 30 receipts, accuracy 1', { timeout: 5 * 60_000 }, () => {
  let h: Harness;
  let report: HarmonizeReport;

  before(async () => {
    h = await harmonizerHarness({
      emulator: { accuracy: 1, latencyMs: 20 },
      env: { LLM_MAX_CONCURRENT_CALLS: '8' },
      dataset: { merchants: 2, receiptsPerMerchant: 30, seed: 7 },
    });
    report = await harmonize(h);
    console.log(
      `harmonizer figures: ${JSON.stringify({
        words: report.words,
        outliers: report.outliers,
        skipped: report.skipped,
        llmDecided: report.llmDecided,
        llmCalls: report.llmCalls,
        callsPer1000Words: report.callsPer1000Words,
        scores: report.scores,
      })}`,
    );
  });
  after(async () => h?.close());

  test('every labelled word gets exactly one result, all succeeded', async () => {
    const expected = labelledWords(h)
      .map((w) => w.wordId)
      .sort();
    assert.equal(report.status, 'COMPLETED');
    assert.equal(report.words, expected.length);
    assert.equal(report.succeeded, expected.length, JSON.stringify(report.failures));
    assert.equal(report.failed, 0);
    const results = await createStores(h.cfg).runs.listResults(report.runId);
    assert.deepEqual(results.map((r) => r.itemId).sort(), expected);
  });

  test('at most 40 LLM calls per 1,000 words, outlier recall >= 0.9', () => {
    assert.ok(report.callsPer1000Words <= 40, `${report.callsPer1000Words} calls per 1,000 words`);
    assert.ok(report.scores, 'scores present');
    assert.ok(report.scores.planted > 0);
    assert.ok(report.scores.recall >= 0.9, `recall ${report.scores.recall}`);
    assert.ok(report.scores.precision >= 0.8, `precision ${report.scores.precision}`);
  });

  test('skip rules, repeated words and LLM decisions account for every word', () => {
    const s = report.skipped;
    assert.ok(s.consistentByNeighbours > 0, 'some words consistent by their neighbours');
    assert.ok(s.outlierNoNeighbours > 0, 'some words outliers for lack of neighbours');
    assert.ok(s.sameTextInRun > 0, 'repeated words decided once');
    assert.equal(s.cached, 0, 'a first run finds nothing in the decision cache');
    assert.equal(
      s.consistentByNeighbours + s.outlierNoNeighbours + s.sameTextInRun + report.llmDecided,
      report.words,
    );
    // Batches of 10 unique words: at most one partly filled batch per group.
    assert.ok(report.llmCalls.outlierDecisions >= Math.ceil(report.llmDecided / 10));
    assert.ok(report.llmCalls.outlierDecisions <= Math.ceil(report.llmDecided / 10) + report.groups);
    const m = h.emulator.metrics();
    assert.equal(m.byEndpoint['/api/chat']?.requests, report.llmCalls.outlierDecisions);
    assert.equal(m.byEndpoint['/api/embed']?.requests, report.llmCalls.embeddings);
    assert.equal(m.rateLimited + m.errors, 0);
  });

  test('Chroma holds each word with the shared record; verdicts are written on the word items', async () => {
    const { chroma } = createHarmonizationStores(h.cfg);
    const words = labelledWords(h);
    assert.equal(await chroma.count('WORD'), words.length);
    const sample = words.filter((_, i) => i % 97 === 0);
    const stored = await chroma.get(
      'WORD',
      sample.map((w) => w.wordId),
    );
    for (const w of sample) {
      const r = stored.get(w.wordId);
      assert.ok(r, `${w.wordId} in Chroma`);
      assert.equal(r.document, wordEmbeddingText(w.text, w.lineText, w.wordIndex));
      assert.equal(r.metadata.merchantId, w.merchantId);
      assert.equal(r.metadata.label, w.label!.label);
      assert.equal(r.metadata.validationStatus, w.label!.validationStatus);
    }
    const { receipts } = createStores(h.cfg);
    let flagged = 0;
    for (const m of ['m-0001', 'm-0002'])
      for (const label of ['PRODUCT_NAME', 'MERCHANT_NAME', 'LINE_TOTAL'])
        flagged += (await receipts.listLabelledWords(m, label)).filter(
          (i) => i.harmonizerOutlier === true,
        ).length;
    assert.ok(flagged > 0, 'outliers flagged on word items');
  });

  test('a second run is served by the decision cache: no provider request, same outliers', async () => {
    h.emulator.reset();
    const again = await harmonize(h);
    assert.equal(h.emulator.metrics().requests, 0);
    assert.deepEqual(again.llmCalls, { outlierDecisions: 0, embeddings: 0 });
    assert.equal(again.skipped.cached, report.llmDecided + report.skipped.sameTextInRun);
    assert.equal(again.skipped.consistentByNeighbours, report.skipped.consistentByNeighbours);
    assert.equal(again.outliers, report.outliers);
    assert.deepEqual(again.scores, report.scores);
  });

  test('--no-cache asks the LLM again, but vectors already in Chroma are not re-embedded', async () => {
    h.emulator.reset();
    const again = await harmonize(h, {
      noCache: true,
      merchantIds: ['m-0001'],
      labelTypes: ['PRODUCT_NAME'],
    });
    assert.equal(again.words, labelledWords(h, 'm-0001', 'PRODUCT_NAME').length);
    assert.equal(again.skipped.cached, 0);
    assert.ok(again.llmCalls.outlierDecisions > 0);
    assert.equal(again.llmCalls.embeddings, 0);
    assert.equal(h.emulator.metrics().byEndpoint['/api/embed']?.requests ?? 0, 0);
    assert.equal(again.llm.cacheHits, 0);
  });

  test('invalid LLM answers end as recorded failures of their words; the run completes', async () => {
    h.emulator.reset();
    h.emulator.updateSettings({ malformedRate: 1 });
    let bad: HarmonizeReport;
    try {
      bad = await harmonize(h, {
        noCache: true,
        merchantIds: ['m-0002'],
        labelTypes: ['PRODUCT_NAME', 'TAX'],
      });
    } finally {
      h.emulator.updateSettings({ malformedRate: 0 });
    }
    assert.equal(bad.status, 'COMPLETED');
    assert.ok(bad.failedBatches > 0 && bad.failed > 0, JSON.stringify(bad.failures.slice(0, 3)));
    assert.equal(bad.llmDecided, 0, 'no LLM batch succeeded');
    assert.ok(
      bad.failures.every((f) => /LLM batch \d+ failed: .*not valid for its schema/.test(f.reason)),
      bad.failures[0]?.reason,
    );
    // Words decided by the skip rules did not need the LLM and succeeded.
    assert.equal(bad.succeeded, bad.skipped.consistentByNeighbours + bad.skipped.outlierNoNeighbours);
    assert.equal(bad.succeeded + bad.failed, bad.words);
    // Repairs were tried, then given up: no endless retries.
    const chat = h.emulator.metrics().byEndpoint['/api/chat']!;
    assert.equal(chat.requests, bad.failedBatches * (h.cfg.LLM_REPAIR_ATTEMPTS + 1));
  });

  test('continue-as-new of root and groups, Chroma-index neighbours in chunks, deterministic replay', async () => {
    h.emulator.reset();
    const labelTypes = ['PRODUCT_NAME', 'LINE_TOTAL', 'TAX'];
    const handle = await startHarmonize(h, {
      merchantIds: ['m-0001'],
      labelTypes,
      noCache: true,
      continueAsNewAfterGroups: 1,
      continueAsNewAfterBatches: 1,
      widths: { groups: 1, decideBatches: 2 },
      // PRODUCT_NAME and LINE_TOTAL take the large-group path: Chroma's index, in chunks.
      exactNeighboursMax: 100,
      neighbourChunkSize: 60,
    });
    const r = await handle.result();
    const expected = labelTypes.reduce((n, l) => n + labelledWords(h, 'm-0001', l).length, 0);
    assert.equal(r.words, expected);
    assert.equal(r.succeeded, expected, JSON.stringify(r.failures));
    assert.ok(r.scores && r.scores.recall >= 0.9, `recall ${r.scores?.recall}`);
    const root = await handle.describe();
    assert.notEqual(root.runId, root.raw.workflowExecutionInfo?.firstRunId, 'the root continued as new');
    const group = h.client.workflow.getHandle(`${handle.workflowId}/m-0001/PRODUCT_NAME`);
    const g = await group.describe();
    assert.notEqual(g.runId, g.raw.workflowExecutionInfo?.firstRunId, 'the big group continued as new');
    const histories = await Promise.all(
      [handle.workflowId, group.workflowId, `${handle.workflowId}/m-0001/TAX`].map(async (workflowId) => ({
        workflowId,
        history: await h.client.workflow.getHandle(workflowId).fetchHistory(),
      })),
    );
    for await (const result of Worker.runReplayHistories(
      { workflowBundle: await workflowBundle() },
      histories,
    ))
      assert.equal(result.error, undefined, `${result.workflowId}: ${String(result.error)}`);
  });

  test('an unknown label type fails the run at once with a clear, non-retried error', async () => {
    const handle = await startHarmonize(h, { labelTypes: ['BANANA'] });
    await assert.rejects(
      handle.result(),
      (err: Error & { cause?: Error & { type?: string; nonRetryable?: boolean } }) => {
        assert.equal(err.name, 'WorkflowFailedError');
        assert.equal(err.cause?.type, 'InvalidInput');
        assert.equal(err.cause?.nonRetryable, true);
        assert.match(err.cause?.message ?? '', /unknown label types: BANANA/);
        return true;
      },
    );
  });
});
