// Determinism: saved histories (test/fixtures/histories, recorded by scripts/save-histories.ts: label
// evaluation, place enrichment, test-suite analysis, label harmonization, embedding) and
// fresh histories of a live run replay against the current workflow code without a violation.
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { History } from '@temporalio/common/lib/proto-utils';
import { Worker, type ReplayResult } from '@temporalio/worker';
import { DeterminismViolationError } from '@temporalio/workflow';
import {
  SMALL_RUN_HARNESS,
  collectHistories,
  historyFileText,
  historyFromFileText,
  loadHistoryFiles,
  runSmallEvaluation,
  type HistoryFile,
} from '../dev/harness/histories';
import { startHarness, workflowBundle, type Harness } from '../dev/harness/pipeline';
import { RECEIPTS_INLINE_PATCH, RECEIPT_SEARCH_ATTRIBUTES_PATCH } from '../src/workflows/evaluate/batch';
import { MERCHANT_CURSOR_PATCH } from '../src/workflows/evaluate/merchant';
import {
  RECEIPT_OUT_OF_HISTORY_PATCH,
  RECEIPT_REVIEWED_WHOLE_PATCH,
} from '../src/workflows/evaluate/receipt';
import { ROOT_CONTINUES_AS_NEW_PATCH } from '../src/workflows/evaluate/root';
import { ENRICH_PLACE_CURSOR_PATCH } from '../src/workflows/enrich/enrich-places';

/** The evaluation's patches (src/workflows/evaluate/): each new path has saved histories. */
const EVALUATION_PATCHES = [
  RECEIPT_OUT_OF_HISTORY_PATCH,
  RECEIPT_SEARCH_ATTRIBUTES_PATCH,
  MERCHANT_CURSOR_PATCH,
  ROOT_CONTINUES_AS_NEW_PATCH,
  RECEIPTS_INLINE_PATCH,
  RECEIPT_REVIEWED_WHOLE_PATCH,
];
/** The enrichment's patches (src/workflows/enrich/): each new path has saved histories. */
const ENRICHMENT_PATCHES = [ENRICH_PLACE_CURSOR_PATCH];
/** Runs started before RECEIPTS_INLINE_PATCH had a child workflow per receipt (saved histories). */
const EVALUATION_TYPES = ['evaluateLabels', 'evaluateMerchant', 'evaluateBatch', 'evaluateReceipt'];
/** A run of today's code: receipts run inline in their batch. */
const LIVE_EVALUATION_TYPES = ['evaluateLabels', 'evaluateMerchant', 'evaluateBatch'];
/** Saved histories cover these; the live run below makes the evaluation ones. */
const WORKFLOW_TYPES = [
  ...EVALUATION_TYPES,
  'enrichPlaces',
  'analyzeTestSuite',
  'harmonizeLabels',
  'harmonizeGroup',
  'embedBackfill',
  'pollEmbeddingBatch',
  'compactEmbeddings',
  'pollLlmBatchJob',
];

/** Replays each history with the current workflow code (one shared bundle of src/workflows). */
async function replay(histories: Array<{ workflowId: string; history: History }>): Promise<ReplayResult[]> {
  const results: ReplayResult[] = [];
  for await (const r of Worker.runReplayHistories({ workflowBundle: await workflowBundle() }, histories)) {
    results.push(r);
  }
  return results;
}

function describeError(r: ReplayResult | undefined): string {
  return r?.error ? `${r.error.name}: ${r.error.message}` : 'no error';
}

function workflowTypeOf(history: History): string | undefined {
  return history.events?.[0]?.workflowExecutionStartedEventAttributes?.workflowType?.name ?? undefined;
}

/** The patch ids whose markers a history holds. */
function patchMarkersOf(history: History): Array<string | undefined> {
  return (history.events ?? []).flatMap((e) =>
    (e.markerRecordedEventAttributes?.details?.['patch-data']?.payloads ?? []).map(
      (p) => (JSON.parse(Buffer.from(p.data ?? []).toString('utf8')) as { id?: string }).id,
    ),
  );
}

describe('replay of saved histories', () => {
  const files: HistoryFile[] = loadHistoryFiles();

  test('a saved history of each workflow type is there, with a continued-as-new merchant', () => {
    const types = new Set(files.map((f) => workflowTypeOf(f.history)));
    for (const t of WORKFLOW_TYPES) assert.ok(types.has(t), `no saved history of ${t}`);
    const continued = files.filter((f) =>
      f.history.events?.some((e) => e.workflowExecutionContinuedAsNewEventAttributes),
    );
    assert.ok(continued.length > 0, 'no saved history ends in continue-as-new');
  });

  test('the evaluation paths behind each patch have saved histories (old and new paths replay)', () => {
    const patchesIn = (history: History) =>
      (history.events ?? []).flatMap((e) =>
        (e.markerRecordedEventAttributes?.details?.['patch-data']?.payloads ?? []).map(
          (p) => (JSON.parse(Buffer.from(p.data ?? []).toString('utf8')) as { id?: string }).id,
        ),
      );
    const patches = new Set(files.flatMap((f) => patchesIn(f.history)));
    for (const id of EVALUATION_PATCHES) assert.ok(patches.has(id), `no saved history with patch ${id}`);
    const continuedRoot = files.some(
      (f) =>
        workflowTypeOf(f.history) === 'evaluateLabels' &&
        f.history.events?.some((e) => e.workflowExecutionContinuedAsNewEventAttributes),
    );
    assert.ok(continuedRoot, 'no saved history of an evaluation root that continued as new');
  });

  test('the enrichment paths behind each patch have saved histories, continued as new', () => {
    const enrichment = files.filter((f) => workflowTypeOf(f.history) === 'enrichPlaces');
    for (const id of ENRICHMENT_PATCHES) {
      const withPatch = enrichment.filter((f) => patchMarkersOf(f.history).includes(id));
      assert.ok(withPatch.length > 0, `no saved enrichPlaces history with patch ${id}`);
    }
    // The first run of a cursor-paged run marks the patch; its continuation carries the cursor.
    const resumedByCursor = enrichment.some((f) =>
      (f.history.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads ?? []).some((p) =>
        Buffer.from(p.data ?? [])
          .toString('utf8')
          .includes('"afterPlace"'),
      ),
    );
    assert.ok(resumedByCursor, 'no saved enrichPlaces history resumed after a place cursor');
  });

  test('every saved history replays without a determinism violation', async () => {
    const results = await replay(files);
    assert.equal(results.length, files.length);
    results.forEach((r, i) => {
      const file = path.basename(files[i]!.file);
      assert.equal(r.workflowId, files[i]!.workflowId);
      assert.equal(r.error, undefined, `${file}: ${describeError(r)}`);
    });
  });

  test('the check has teeth: a history whose activity differs from the code fails replay', async () => {
    const source = files.find((f) =>
      f.history.events?.some((e) => e.activityTaskScheduledEventAttributes?.activityType?.name),
    );
    assert.ok(source, 'a saved history with a scheduled activity');
    // The same history as if older code had called another activity at that point.
    const tampered = historyFromFileText(historyFileText(source.history));
    const scheduled = tampered.events!.find((e) => e.activityTaskScheduledEventAttributes)!;
    scheduled.activityTaskScheduledEventAttributes!.activityType = { name: 'someOtherActivity' };
    const [result] = await replay([{ workflowId: source.workflowId, history: tampered }]);
    assert.ok(
      result?.error instanceof DeterminismViolationError,
      `expected a DeterminismViolationError, got ${describeError(result)}`,
    );
  });
});

describe('replay of fresh histories from a live run', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness(SMALL_RUN_HARNESS);
  });
  after(async () => h?.close());

  test('the histories of a run just made replay, also after a trip through the saved format', async () => {
    const report = await runSmallEvaluation(h);
    assert.equal(report.total, 4);
    assert.equal(report.succeeded, 3, JSON.stringify(report.failures));
    assert.equal(report.failed, 1, 'the receipt without lines is a recorded failure');
    const recorded = await collectHistories(h, report);
    assert.deepEqual(
      [...new Set(recorded.map((r) => r.workflowType))].sort(),
      [...LIVE_EVALUATION_TYPES].sort(),
    );
    const batches = recorded.filter((r) => r.workflowType === 'evaluateBatch');
    assert.ok(
      batches.every((b) =>
        b.history.events?.every((e) => !e.startChildWorkflowExecutionInitiatedEventAttributes),
      ),
      'a batch of this code started a receipt child workflow',
    );

    const histories = recorded.flatMap((r) => [
      { workflowId: r.workflowId, history: r.history },
      { workflowId: r.workflowId, history: historyFromFileText(historyFileText(r.history)) },
    ]);
    const results = await replay(histories);
    assert.equal(results.length, histories.length);
    results.forEach((r, i) => {
      const rec = recorded[Math.floor(i / 2)]!;
      const how = i % 2 ? 'saved format' : 'as fetched';
      assert.equal(r.error, undefined, `${rec.workflowType} (${rec.note}, ${how}): ${describeError(r)}`);
    });
  });
});
