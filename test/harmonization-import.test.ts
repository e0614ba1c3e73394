// End to end on the real stack: the harmonizer over receipts imported in the seed project's LayoutLM
// format (one merchant, a few receipts, an alias and a bad record). The emulator has no truth for
// imported words: it answers them deterministically ("consistent"), and every word of every label
// ends with a decision or a failure that says why; nothing is left running.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { HarmonizeReport } from '../src/activities/harmonize';
import { createHarmonizationStores, createStores } from '../src/deps';
import { parseImport } from '../src/domain/import';
import { LABELS } from '../src/domain/labels';
import { allWords } from '../src/domain/receipt';
import type { ItemResult } from '../src/stores/runs';
import type { HarmonizeLabelsInput } from '../src/workflows/harmonize';
import { startHarness, uniqueId, type Harness } from '../dev/harness/pipeline';

const FIXTURE = path.join(__dirname, 'fixtures', 'seed-formats', 'layoutlm-one-merchant.json');
/** How a word's decision can come about (activities/harmonize/types.ts `DecisionRule`). */
const RULES = new Set(['consistent', 'isolated', 'cached', 'llm', 'shared', 'missing']);

describe('harmonizer on imported receipts (layoutlm, one merchant)', { timeout: 5 * 60_000 }, () => {
  const imported = parseImport(fs.readFileSync(FIXTURE, 'utf8'), 'layoutlm');
  const merchantId = imported.merchants[0]!.merchantId;
  const labelledWords = imported.receipts.flatMap((r) => allWords(r).filter((w) => w.label));
  let h: Harness;
  const runs: Array<{ report: HarmonizeReport; results: ItemResult[] }> = [];

  const harmonize = async (input: HarmonizeLabelsInput) => {
    const runId = uniqueId('hz-import-');
    const report = (await h.client.workflow.execute('harmonizeLabels', {
      taskQueue: h.cfg.TASK_QUEUE_PIPELINE,
      workflowId: runId,
      args: [{ runId, llmTaskQueue: h.cfg.TASK_QUEUE_LLM, merchantIds: [merchantId], ...input }],
    })) as HarmonizeReport;
    return { report, results: await createStores(h.cfg).runs.listResults(runId) };
  };

  before(async () => {
    h = await startHarness({
      emulator: { accuracy: 1, latencyMs: 20 },
      env: { CHROMA_COLLECTION_PREFIX: `${uniqueId('hzi')}-` },
    });
    const { receipts } = createStores(h.cfg);
    await receipts.putMerchants(imported.merchants);
    await receipts.putReceipts(imported.receipts);
    runs.push(await harmonize({}));
    // Again without any cache (decisions nor LLM answers): the emulator is asked the same again.
    runs.push(await harmonize({ noCache: true }));
    const { words, outliers, failed, skipped, llmDecided, llmCalls } = runs[0]!.report;
    console.log(
      `imported harmonizer figures: ${JSON.stringify({ words, outliers, failed, skipped, llmDecided, llmCalls })}`,
    );
  });
  after(async () => {
    await h?.close();
    if (h) await createHarmonizationStores(h.cfg).chroma.deleteCollections();
  });

  test('the fixture imports as one merchant with a few receipts; its bad record is rejected', () => {
    assert.equal(imported.merchants.length, 1);
    assert.equal(imported.receipts.length, 3);
    assert.ok(imported.receipts.every((r) => r.merchantId === merchantId));
    assert.equal(imported.rejected.length, 1);
    assert.match(imported.rejected[0]!.reasons.join(), /unknown label "SPECIAL_OFFER"/);
    assert.ok(labelledWords.length >= 50, `${labelledWords.length} labelled words`);
  });

  test('every labelled word has exactly one result: decided by a rule, or failed with its reason', () => {
    const expected = labelledWords.map((w) => w.wordId).sort();
    for (const { report, results } of runs) {
      assert.equal(report.status, 'COMPLETED');
      assert.deepEqual(results.map((r) => r.itemId).sort(), expected, 'one result per word, no other');
      for (const r of results) {
        assert.ok(RULES.has(String(r.detail?.rule)), `${r.itemId}: rule ${String(r.detail?.rule)}`);
        if (r.status === 'SUCCEEDED') assert.equal(typeof r.detail?.outlier, 'boolean', r.itemId);
        else {
          assert.equal(r.status, 'FAILED', r.itemId);
          assert.ok(r.reason && r.reason.length > 0, `${r.itemId} failed without a reason`);
        }
      }
      assert.equal(report.words, expected.length);
      assert.equal(report.total, results.length);
      assert.equal(report.succeeded + report.failed, report.words);
      const s = report.skipped;
      assert.equal(
        s.consistentByNeighbours + s.outlierNoNeighbours + s.cached + s.sameTextInRun + report.llmDecided,
        report.succeeded,
        'the skip rules, the caches and the LLM account for every decided word',
      );
      assert.equal(report.scores, undefined, 'nothing planted, nothing scored');
    }
  });

  test('nothing is left running: run records, the root and every group workflow completed', async () => {
    const store = createStores(h.cfg).runs;
    for (const { report } of runs) {
      assert.equal((await store.getRun(report.runId))?.status, 'COMPLETED');
      const root = await h.client.workflow.getHandle(report.runId).describe();
      assert.equal(root.status.name, 'COMPLETED');
      assert.deepEqual(root.searchAttributes.RunStatus, ['COMPLETED']);
      for (const label of LABELS) {
        const group = await h.client.workflow.getHandle(`${report.runId}/${merchantId}/${label}`).describe();
        assert.equal(group.status.name, 'COMPLETED', `group ${label}`);
      }
    }
  });

  test('small groups of clean words: no word is an outlier for its group being small', () => {
    const { report } = runs[0]!;
    assert.equal(report.skipped.outlierNoNeighbours, 0);
    assert.equal(report.outliers, 0);
  });

  test('the emulator answers words it has no truth for deterministically', () => {
    const [first, second] = runs.map(({ results }) => new Map(results.map((r) => [r.itemId, r])));
    const llmDecided = [...first!.values()].filter(
      (r) => r.detail?.rule === 'llm' || r.detail?.rule === 'shared',
    );
    assert.ok(llmDecided.length > 0, 'some words reach the LLM');
    for (const r of llmDecided) {
      assert.equal(r.status, 'SUCCEEDED', `${r.itemId}: ${r.reason}`);
      assert.equal(r.detail?.outlier, false, `${r.itemId}: no truth, no outlier`);
      assert.equal(r.detail?.suggestedLabel, undefined, r.itemId);
    }
    for (const [wordId, r] of first!) {
      const again = second!.get(wordId)!;
      assert.deepEqual(
        [again.status, again.detail?.rule, again.detail?.outlier],
        [r.status, r.detail?.rule, r.detail?.outlier],
        `${wordId} decided alike both times`,
      );
    }
    const decisionCalls = runs.reduce((n, { report }) => n + report.llmCalls.outlierDecisions, 0);
    const m = h.emulator.metrics();
    assert.equal(
      m.byEndpoint['/api/chat']?.requests,
      decisionCalls,
      'the second run asked the emulator again',
    );
    assert.equal(m.rateLimited + m.errors, 0);
  });
});
