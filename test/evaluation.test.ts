// End to end: the label evaluation on the real stack, real workers, the emulator over real HTTP.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { EvaluationReport } from '../src/activities/evaluate';
import type { EvaluateLabelsInput } from '../src/workflows/evaluate';
import type { RunProgress } from '../src/workflows/shared/progress';
import type { History } from '@temporalio/common/lib/proto-utils';
import { DeleteCommand } from '@aws-sdk/lib-dynamodb';
import { createStores } from '../src/deps';
import { startHarness, uniqueId, type Harness } from '../dev/harness/pipeline';

async function runEvaluation(h: Harness, input: EvaluateLabelsInput = {}): Promise<EvaluationReport> {
  const runId = uniqueId('eval-');
  return h.client.workflow.execute('evaluateLabels', {
    taskQueue: h.cfg.TASK_QUEUE_PIPELINE,
    workflowId: runId,
    args: [{ runId, llmTaskQueue: h.cfg.TASK_QUEUE_LLM, ...input }],
  }) as Promise<EvaluationReport>;
}

const RECEIPTS_PER_MERCHANT = 20;
const RECEIPTS = 3 * RECEIPTS_PER_MERCHANT;

describe(`label evaluation, 3 merchants x ${RECEIPTS_PER_MERCHANT} receipts, provider limit 6 = cap 6`, () => {
  let h: Harness;
  let report: EvaluationReport;

  before(async () => {
    h = await startHarness({
      emulator: { maxConcurrency: 6, accuracy: 1, latencyMs: 30 },
      env: { LLM_MAX_CONCURRENT_CALLS: '6' },
      dataset: { merchants: 3, receiptsPerMerchant: RECEIPTS_PER_MERCHANT, seed: 7, errorRate: 0.05 },
    });
    // Labels kept as they are: the reruns below ask exactly the same questions (cache, --no-cache).
    report = await runEvaluation(h, { applySuggestedLabels: false });
  });
  after(async () => h?.close());

  test('every receipt succeeds and its result is written once', async () => {
    assert.equal(report.total, RECEIPTS);
    assert.equal(report.succeeded, RECEIPTS, JSON.stringify(report.failures));
    assert.equal(report.failed, 0);
    const results = await createStores(h.cfg).runs.listResults(report.runId);
    assert.equal(new Set(results.map((r) => r.itemId)).size, RECEIPTS);
  });

  test('the provider never sees more than the cap and refuses nothing', () => {
    const m = h.emulator.metrics();
    assert.ok(m.inFlightMax <= 6, `inFlightMax ${m.inFlightMax}`);
    assert.equal(m.rateLimited, 0);
    assert.ok(m.requests >= report.llm.calls && report.llm.calls > 0);
    assert.ok(m.series.every((p) => p.inFlight <= 6));
  });

  test('planted label errors are found (recall >= 0.9 at accuracy 1.0)', () => {
    assert.ok(report.scores, 'scores present');
    assert.ok(report.scores.planted > 0);
    assert.ok(report.scores.recall >= 0.9, `recall ${report.scores.recall}`);
    assert.ok(report.decisions.INVALID! > 0);
  });

  test('the report accounts LLM calls, tokens and latency percentiles', () => {
    const l = report.llm;
    assert.ok(l.calls > 0 && l.promptTokens > 0 && l.completionTokens > 0);
    assert.ok(
      l.latencyMs.p50 > 0 && l.latencyMs.p50 <= l.latencyMs.p95 && l.latencyMs.p95 <= l.latencyMs.p99,
    );
    assert.equal(l.cacheHits, 0);
  });

  test('a rerun with --revalidate is answered entirely from the cache', async () => {
    h.emulator.reset();
    const again = await runEvaluation(h, { revalidate: true, applySuggestedLabels: false });
    assert.equal(again.succeeded, RECEIPTS);
    assert.equal(h.emulator.metrics().requests, 0);
    assert.equal(again.llm.calls, 0);
    assert.ok(
      again.llm.cacheHits >= report.llm.calls,
      `${again.llm.cacheHits} hits vs ${report.llm.calls} calls`,
    );
    assert.equal(again.issuesFound, report.issuesFound);
  });

  test('a rerun with --no-cache goes to the provider again', async () => {
    h.emulator.reset();
    const again = await runEvaluation(h, {
      revalidate: true,
      noCache: true,
      merchantIds: ['m-0001'],
      applySuggestedLabels: false,
    });
    assert.equal(again.succeeded, RECEIPTS_PER_MERCHANT);
    assert.ok(h.emulator.metrics().requests > 0);
    assert.equal(again.llm.cacheHits, 0);
  });

  test("the seed's write-back: each planted error reviewed INVALID gets the suggested label, VALID, its old one a past label", async () => {
    const merchantId = 'm-0002';
    const run = await runEvaluation(h, { revalidate: true, merchantIds: [merchantId] });
    assert.equal(run.succeeded, RECEIPTS_PER_MERCHANT);
    const planted = h.dataset!.planted.filter((p) => p.receiptId.startsWith(`${merchantId}-`));
    assert.ok(planted.length > 0, 'the merchant has planted errors');
    const stores = createStores(h.cfg);
    const replaced: typeof planted = [];
    for (const p of planted) {
      const receipt = await stores.receipts.getReceipt(p.receiptId);
      const word = receipt!.lines.flatMap((l) => l.words).find((w) => w.wordId === p.wordId)!;
      if (word.label?.label === p.plantedLabel) continue; // not reviewed INVALID (recall is checked above)
      replaced.push(p);
      assert.deepEqual(
        [word.label?.label, word.label?.validationStatus, word.label?.source],
        [p.trueLabel, 'VALID', 'llm-review'],
      );
      const past = word.pastLabels?.at(-1);
      assert.deepEqual([past?.label, past?.validationStatus], [p.plantedLabel, 'INVALID']);
      assert.ok(past?.reason, 'the audit reason is kept');
    }
    assert.ok(replaced.length >= 0.9 * planted.length, `${replaced.length} of ${planted.length} replaced`);
    // A replaced word moved to its new label's group (what the harmonizer reads) and left the old one.
    const moved = replaced[0]!;
    const inGroup = async (label: string) =>
      (await stores.receipts.listLabelledWords(merchantId, label)).some((w) => w.wordId === moved.wordId);
    assert.deepEqual([await inGroup(moved.trueLabel), await inGroup(moved.plantedLabel)], [true, false]);
  });
});

describe('label evaluation under a 429 storm (provider limit 2, cap 8, not adaptive)', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({
      // Calls long enough to overlap however slowly a busy machine starts them (at 40 ms, a run under a
      // load average of 8 once kept within the provider's 2 and saw no storm).
      emulator: { maxConcurrency: 2, accuracy: 1, latencyMs: 250, retryAfterS: 0.2 },
      env: { LLM_MAX_CONCURRENT_CALLS: '8', LLM_ADAPTIVE: 'false' },
      dataset: { merchants: 2, receiptsPerMerchant: 8, seed: 3 },
    });
  });
  after(async () => h?.close());

  test('the run completes with every receipt accounted for, 429s retried after Retry-After', async () => {
    const report = await runEvaluation(h);
    assert.equal(report.total, 16);
    assert.equal(report.succeeded + report.failed, 16);
    assert.equal(report.succeeded, 16, JSON.stringify(report.failures));
    assert.ok(h.emulator.metrics().rateLimited > 0, 'the storm happened');
    assert.equal(report.llm.rateLimited, h.emulator.metrics().rateLimited);
  });
});

describe('label evaluation: bad input and structure', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({
      emulator: { accuracy: 1 },
      env: { LLM_MAX_CONCURRENT_CALLS: '4' },
      dataset: { merchants: 1, receiptsPerMerchant: 12, seed: 11 },
    });
  });
  after(async () => h?.close());

  test('bad receipts end as recorded failures with reasons; the rest succeed', async () => {
    const { receipts } = createStores(h.cfg);
    const good = h.dataset!.receipts[0]!;
    const bad = (suffix: string) => ({ ...good, receiptId: `m-0001-r-9${suffix}` });
    const noWords = { ...bad('0001'), lines: [] };
    const nonNumericTotal = {
      ...bad('0002'),
      lines: good.lines.map((l) => ({
        ...l,
        words: l.words.map((w) => (w.label?.label === 'GRAND_TOTAL' ? { ...w, text: 'ABC' } : w)),
      })),
    };
    const huge = {
      ...bad('0003'),
      lines: Array.from({ length: 100 }, (_, li) => ({
        lineId: `x${li}`,
        lineIndex: li,
        text: 'w '.repeat(20),
        words: Array.from({ length: 20 }, (_, wi) => ({
          wordId: `m-0001-r-90003#L${String(li).padStart(3, '0')}#W${String(wi).padStart(3, '0')}`,
          lineIndex: li,
          wordIndex: wi,
          text: 'w',
        })),
      })),
    };
    const unknownLabel = {
      ...bad('0004'),
      lines: good.lines.map((l, i) =>
        i === 0
          ? {
              ...l,
              words: l.words.map((w) => ({
                ...w,
                label: { label: 'BANANA' as never, validationStatus: 'PENDING' as const, source: 'import' },
              })),
            }
          : l,
      ),
    };
    const fixIds = (r: typeof good) => ({
      ...r,
      lines: r.lines.map((l) => ({
        ...l,
        words: l.words.map((w) => ({ ...w, wordId: w.wordId.replace(good.receiptId, r.receiptId) })),
      })),
    });
    await receipts.putReceipts([noWords, fixIds(nonNumericTotal), huge, fixIds(unknownLabel)]);

    const report = await runEvaluation(h);
    assert.equal(report.total, 16);
    assert.equal(report.succeeded, 12, JSON.stringify(report.failures));
    assert.equal(report.failed, 4);
    const reasons = new Map(report.failures.map((f) => [f.itemId, f.reason]));
    assert.match(reasons.get('m-0001-r-90001') ?? '', /no (lines|words)/i);
    assert.match(reasons.get('m-0001-r-90002') ?? '', /GRAND_TOTAL/);
    assert.match(reasons.get('m-0001-r-90003') ?? '', /2000|words/);
    assert.match(reasons.get('m-0001-r-90004') ?? '', /BANANA|unknown label/i);
  });

  test('a merchant continues as new after N batches and still finishes every receipt', async () => {
    const runId = uniqueId('eval-can-');
    const report = (await h.client.workflow.execute('evaluateLabels', {
      taskQueue: h.cfg.TASK_QUEUE_PIPELINE,
      workflowId: runId,
      args: [
        {
          runId,
          llmTaskQueue: h.cfg.TASK_QUEUE_LLM,
          batchSize: 3,
          continueAsNewAfterBatches: 2,
          skipLlmReview: true,
        },
      ],
    })) as EvaluationReport;
    assert.equal(report.succeeded + report.failed, 16);
    const merchant = h.client.workflow.getHandle(`${runId}/m-0001`);
    const desc = await merchant.describe();
    // The current run is not the first: it was continued as new at least once.
    assert.notEqual(desc.runId, desc.raw.workflowExecutionInfo?.firstRunId);
  });

  test('an unknown merchant filter fails the run with a clear, non-retried error', async () => {
    const runId = uniqueId('eval-bad-');
    await assert.rejects(
      h.client.workflow.execute('evaluateLabels', {
        taskQueue: h.cfg.TASK_QUEUE_PIPELINE,
        workflowId: runId,
        args: [{ runId, merchantIds: ['nope'] }],
      }),
      (err: Error & { cause?: Error & { type?: string; nonRetryable?: boolean } }) => {
        // A local activity's failure reaches the workflow as the ApplicationFailure itself.
        assert.equal(err.name, 'WorkflowFailedError');
        assert.equal(err.cause?.name, 'ApplicationFailure');
        assert.equal(err.cause?.type, 'UnknownMerchant');
        assert.equal(err.cause?.nonRetryable, true);
        assert.match(err.cause?.message ?? '', /Unknown merchant ids: nope/);
        return true;
      },
    );
    // The run record says FAILED with the reason (it used to stay RUNNING).
    const run = await createStores(h.cfg).runs.getRun(runId);
    assert.equal(run?.status, 'FAILED');
    assert.match(String(run?.report?.reason), /Unknown merchant ids: nope/);
    const desc = await h.client.workflow.getHandle(runId).describe();
    assert.equal(desc.searchAttributes.RunStatus?.[0], 'FAILED');
  });

  test('a cancelled run is recorded CANCELLED, not left RUNNING', async () => {
    const runId = uniqueId('eval-cancel-');
    const handle = await h.client.workflow.start('evaluateLabels', {
      taskQueue: h.cfg.TASK_QUEUE_PIPELINE,
      workflowId: runId,
      args: [{ runId, llmTaskQueue: h.cfg.TASK_QUEUE_LLM, noCache: true }],
    });
    await handle.cancel();
    await assert.rejects(handle.result(), (err: Error & { cause?: Error }) => {
      assert.equal(err.name, 'WorkflowFailedError');
      assert.equal(err.cause?.name, 'CancelledFailure');
      return true;
    });
    const run = await createStores(h.cfg).runs.getRun(runId);
    assert.equal(run?.status, 'CANCELLED');
    const desc = await handle.describe();
    assert.equal(desc.status.name, 'CANCELLED');
    assert.equal(desc.searchAttributes.RunStatus?.[0], 'CANCELLED');
  });
});

/** Every payload of a history, decoded (JSON text). */
function payloadTexts(history: History): string[] {
  const out: string[] = [];
  const visit = (v: unknown) => {
    if (!v || typeof v !== 'object') return;
    if (v instanceof Uint8Array) return;
    const p = v as { data?: unknown; metadata?: unknown };
    if (p.metadata && p.data instanceof Uint8Array) out.push(Buffer.from(p.data).toString('utf8'));
    for (const x of Object.values(v)) visit(x);
  };
  visit(history);
  return out;
}

/** Every run of a workflow, first to last, following its continue-as-new chain. */
async function historiesOfChain(h: Harness, workflowId: string): Promise<History[]> {
  const desc = await h.client.workflow.getHandle(workflowId).describe();
  const out: History[] = [];
  let runId: string | undefined = desc.raw.workflowExecutionInfo?.firstRunId ?? desc.runId;
  while (runId) {
    const history = await h.client.workflow.getHandle(workflowId, runId).fetchHistory();
    out.push(history);
    const last = history.events?.at(-1);
    runId = last?.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId ?? undefined;
  }
  return out;
}

describe('label evaluation: a receipt deleted mid-run', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({
      // Slow calls, one receipt at a time: the test deletes a receipt while the first is reviewed.
      emulator: { accuracy: 1, latencyMs: 1500, jitterMs: 0 },
      env: { LLM_MAX_CONCURRENT_CALLS: '2' },
      dataset: { merchants: 1, receiptsPerMerchant: 8, seed: 13, pendingRate: 1 },
    });
  });
  after(async () => h?.close());

  test('shifts no batch of a merchant that continues as new: every other receipt is evaluated', async () => {
    const ids = h.dataset!.receipts.map((r) => r.receiptId).sort();
    const runId = uniqueId('eval-del-');
    const handle = await h.client.workflow.start('evaluateLabels', {
      taskQueue: h.cfg.TASK_QUEUE_PIPELINE,
      workflowId: runId,
      args: [
        {
          runId,
          llmTaskQueue: h.cfg.TASK_QUEUE_LLM,
          batchSize: 4,
          continueAsNewAfterBatches: 1,
          reviewChunkSize: 200,
          widths: { batches: 1, receipts: 1 },
        },
      ],
    });
    const { receipts, runs, ddb } = createStores(h.cfg);
    // The first LLM call in flight: receipts are evaluated one by one, in id order.
    const deadline = Date.now() + 120_000;
    while (h.emulator.metrics().inFlight < 1) {
      assert.ok(Date.now() < deadline, 'no LLM call started');
      await new Promise((r) => setTimeout(r, 20));
    }
    // The last receipt of the first batch (4): three 1.5 s reviews ahead of it. The next one after the
    // receipts already done was deleted once too late on a loaded machine (the poll above had lagged past
    // a review, and the receipt it picked was already being read): it succeeded.
    const done = (await runs.listResults(runId)).length;
    const deleted = ids[3]!;
    assert.ok(done < 3, `the receipt to delete (${deleted}) is not reviewed yet: ${done} done`);
    const items = await receipts.queryPrefix(`RECEIPT#${deleted}`, '');
    for (const i of items)
      await ddb.send(new DeleteCommand({ TableName: h.cfg.DYNAMODB_TABLE, Key: { PK: i.PK, SK: i.SK } }));

    const report = (await handle.result()) as EvaluationReport;
    const results = new Map((await runs.listResults(runId)).map((r) => [r.itemId, r]));
    for (const id of ids.filter((x) => x !== deleted))
      assert.equal(
        results.get(id)?.status,
        'SUCCEEDED',
        `${id} skipped or failed: ${JSON.stringify(report)}`,
      );
    assert.equal(results.get(deleted)?.status, 'FAILED', 'the deleted receipt is a recorded failure');
    assert.equal(report.total, ids.length);

    // Receipts run inline in their batch, each reviewed whole by one llm-queue activity: its history
    // holds neither a receipt's words nor its issues, and the batch, which carries the run's search
    // attributes, is what the Web UI lists.
    const batchWorkflowId = `${runId}/m-0001/b00000`;
    const history = await h.client.workflow.getHandle(batchWorkflowId).fetchHistory();
    assert.ok(
      !history.events?.some((e) => e.startChildWorkflowExecutionInitiatedEventAttributes),
      'the batch started a child workflow for a receipt',
    );
    const texts = payloadTexts(history);
    assert.ok(!texts.some((t) => t.includes('"wordId"')), 'the issues reviewed are in history');
    const scheduled = (history.events ?? []).flatMap(
      (e) => e.activityTaskScheduledEventAttributes?.activityType?.name ?? [],
    );
    // One activity a receipt; the deleted one's failure is then recorded by the workflow.
    assert.deepEqual(
      scheduled.filter((name) => name !== 'reviewReceipt'),
      ['recordItemFailure'],
      `one activity a receipt: ${scheduled.join(', ')}`,
    );
    assert.equal(scheduled.length, 5, `one activity a receipt: ${scheduled.join(', ')}`);
    assert.ok(!texts.some((t) => t.includes('"lines"')), 'a receipt (its lines) is in the history');
    const desc = await h.client.workflow.getHandle(batchWorkflowId).describe();
    assert.deepEqual(desc.searchAttributes.PipelineRunId, [runId]);
    assert.deepEqual(desc.searchAttributes.Pipeline, ['evaluate']);
    assert.deepEqual(desc.searchAttributes.Merchant, ['m-0001']);
  });
});

describe('label evaluation: the root history is bounded', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({
      emulator: { accuracy: 1 },
      dataset: { merchants: 3, receiptsPerMerchant: 6, seed: 17 },
    });
  });
  after(async () => h?.close());

  test('merchants send coalesced progress, and the root continues as new carrying it', async () => {
    const runId = uniqueId('eval-root-');
    const handle = await h.client.workflow.start('evaluateLabels', {
      taskQueue: h.cfg.TASK_QUEUE_PIPELINE,
      workflowId: runId,
      args: [
        {
          runId,
          llmTaskQueue: h.cfg.TASK_QUEUE_LLM,
          batchSize: 1,
          skipLlmReview: true,
          widths: { merchants: 1 },
          continueAsNewAfterMerchants: 1,
          progressEveryMs: 3_600_000,
        },
      ],
    });
    const report = (await handle.result()) as EvaluationReport;
    assert.equal(report.succeeded, 18, JSON.stringify(report.failures));

    const chain = await historiesOfChain(h, runId);
    assert.equal(chain.length, 3, 'one root run per merchant');
    // 18 batches: one signal per batch before; now a merchant's plan and its final totals.
    const signals = chain.flatMap((hist) =>
      (hist.events ?? []).filter((e) => e.workflowExecutionSignaledEventAttributes),
    );
    assert.ok(signals.length <= 6, `${signals.length} progress signals reached the root`);
    const progress = await handle.query<RunProgress>('progress');
    assert.deepEqual(progress, { total: 18, done: 18, failed: 0, merchantsDone: 3, merchantsTotal: 3 });

    // Nothing to review (--skip-llm-review): the receipt's one activity reads, applies the rules and
    // saves its result (the report above counted it from the store).
    const batch = await h.client.workflow.getHandle(`${runId}/m-0001/b00000`).fetchHistory();
    const activities = (batch.events ?? []).flatMap(
      (e) => e.activityTaskScheduledEventAttributes?.activityType?.name ?? [],
    );
    assert.deepEqual(activities, ['prepareReceiptReview'], 'activities of a receipt with nothing to review');
  });
});
