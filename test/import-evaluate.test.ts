// End to end on the real stack: receipts in the seed project's two export formats (aliases, bad
// records) are imported and evaluated; the emulator has no truth for them and answers NEEDS_REVIEW,
// which changes no label.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { EvaluationReport } from '../src/activities/evaluate';
import { createStores } from '../src/deps';
import { parseImport } from '../src/domain/import';
import { allWords } from '../src/domain/receipt';
import { startHarness, uniqueId, type Harness } from '../dev/harness/pipeline';

const fixture = (name: string) =>
  fs.readFileSync(path.join(__dirname, 'fixtures', 'seed-formats', name), 'utf8');

describe('seed export formats: import, then evaluate end to end', { timeout: 5 * 60_000 }, () => {
  let h: Harness;
  let report: EvaluationReport;
  const layoutlm = parseImport(fixture('layoutlm.json'), 'layoutlm');
  const dynamo = parseImport(fixture('dynamo-export.json'), 'dynamo-export');
  const receipts = [...layoutlm.receipts, ...dynamo.receipts];

  before(async () => {
    h = await startHarness({ emulator: { accuracy: 1, latencyMs: 20 } });
    const { receipts: store } = createStores(h.cfg);
    await store.putMerchants([...layoutlm.merchants, ...dynamo.merchants]);
    await store.putReceipts(receipts);
    const runId = uniqueId('import-eval-');
    report = (await h.client.workflow.execute('evaluateLabels', {
      taskQueue: h.cfg.TASK_QUEUE_PIPELINE,
      workflowId: runId,
      args: [{ runId, llmTaskQueue: h.cfg.TASK_QUEUE_LLM }],
    })) as EvaluationReport;
  });
  after(async () => h?.close());

  test('both formats imported with their bad records rejected', () => {
    assert.equal(layoutlm.receipts.length, 2);
    assert.equal(layoutlm.rejected.length, 2);
    assert.equal(dynamo.receipts.length, 1);
    assert.equal(dynamo.rejected.length, 3);
  });

  test('every imported receipt is evaluated, with issues found by rules and reviewed', () => {
    assert.equal(report.total, 3);
    assert.equal(report.succeeded, 3, JSON.stringify(report.failures));
    assert.ok(report.issuesFound > 0);
    assert.equal(report.decisions.NEEDS_REVIEW, report.issuesFound, 'no truth: every review NEEDS_REVIEW');
    assert.equal(report.scores, undefined, 'nothing planted, nothing scored');
  });

  test('geometry and labels survive the store; NEEDS_REVIEW changed no label', async () => {
    const { receipts: store } = createStores(h.cfg);
    for (const original of receipts) {
      const stored = await store.getReceipt(original.receiptId);
      assert.ok(stored, original.receiptId);
      assert.equal(stored.imageId, original.imageId);
      assert.deepEqual(
        allWords(stored).map((w) => [w.text, w.boundingBox, w.label?.label, w.label?.validationStatus]),
        allWords(original).map((w) => [w.text, w.boundingBox, w.label?.label, w.label?.validationStatus]),
      );
    }
  });
});
