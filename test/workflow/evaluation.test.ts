// The label evaluation's branching on the time-skipping server with fake activities: a receipt whose
// fetch fails non-retryably is recorded failed, an LLM review that fails ends its receipt FAILED
// with the reason, a merchant continues as new after N batches and still completes, and a cancelled
// root is recorded CANCELLED through failRun.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Context } from '@temporalio/activity';
import { WorkflowFailedError } from '@temporalio/client';
import { CancelledFailure } from '@temporalio/common';
import { evaluateLabels, evaluateReceipt } from '../../src/workflows';
import {
  ApplicationFailure,
  failureOf,
  messages,
  useTimeSkipping,
  withFakeWorkers,
  type Fakes,
} from './fake-env';

const RECEIPTS = ['r-ok-1', 'r-missing', 'r-bad-llm', 'r-ok-2'];

/** One merchant; `r-missing` cannot be fetched, `r-bad-llm`'s review is refused for good. */
function evaluationFakes(overrides: Fakes = {}): Fakes {
  return {
    async startRun() {},
    async failRun() {},
    async listMerchantIds() {
      return ['m-1'];
    },
    // The merchant lists its receipt ids page by page, after the last one it started.
    async listReceiptIdPage(input: { after?: string; limit: number; withTotal?: boolean }) {
      const rest = input.after === undefined ? RECEIPTS : RECEIPTS.slice(RECEIPTS.indexOf(input.after) + 1);
      return {
        receiptIds: rest.slice(0, input.limit),
        ...(input.withTotal ? { total: RECEIPTS.length } : {}),
      };
    },
    // Fetch and rules in one local activity: two issues per receipt, so each goes to the LLM review.
    async prepareReceiptReview({ receiptId, chunkSize }: { receiptId: string; chunkSize: number }) {
      if (receiptId === 'r-missing')
        throw ApplicationFailure.nonRetryable(`receipt ${receiptId} not found`, 'ReceiptNotFound');
      const issues = [1, 2].map((n) => ({ wordId: `${receiptId}#${n}`, label: 'TOTAL', rule: 'r' }));
      const chunks = [];
      for (let i = 0; i < issues.length; i += chunkSize) chunks.push(issues.slice(i, i + chunkSize));
      return { merchantName: 'Shop', issueCount: issues.length, chunks };
    },
    async reviewLabelIssues({ receiptId, issues }: { receiptId: string; issues: Array<{ wordId: string }> }) {
      if (receiptId === 'r-bad-llm')
        throw ApplicationFailure.nonRetryable('the answer is invalid after 2 repairs', 'LlmInvalidAnswer');
      return issues.map((i) => ({ wordId: i.wordId, decision: 'VALID' }));
    },
    async saveReviewResults() {},
    async recordItemFailure() {},
    async buildEvaluationReport(input: { runId: string; status: string }) {
      return { ...input, receipts: RECEIPTS.length };
    },
    ...overrides,
  };
}

// A fake missing for an activity the workflows call would retry forever: the timeout says so instead.
describe('evaluation workflows (time-skipping, fake activities)', { timeout: 120_000 }, () => {
  const testEnv = useTimeSkipping();

  test('failed fetches and failed reviews are recorded; a merchant continues as new and completes', async () => {
    const env = testEnv();
    await withFakeWorkers(env, evaluationFakes(), async (run) => {
      const report = await env.client.workflow.execute(evaluateLabels, {
        taskQueue: run.pipelineQueue,
        workflowId: 'wf-eval-branches',
        args: [
          { llmTaskQueue: run.llmQueue, batchSize: 1, continueAsNewAfterBatches: 1, reviewChunkSize: 1 },
        ],
      });
      assert.equal(report.status, 'COMPLETED');
      // One batch per merchant run: 4 receipts, 4 runs of the merchant workflow, each listing its page.
      assert.ok(
        run.callsOf('listReceiptIdPage').length >= RECEIPTS.length,
        'continued as new after each batch',
      );
      const failures = run.callsOf('recordItemFailure');
      assert.deepEqual(
        failures.map((f) => f.itemId),
        ['r-missing'],
        'only the unfetchable receipt is recorded as an item failure',
      );
      assert.match(failures[0].reason, /receipt r-missing not found/);
      const saved = new Map(run.callsOf('saveReviewResults').map((s) => [s.receiptId, s]));
      assert.deepEqual([...saved.keys()].sort(), ['r-bad-llm', 'r-ok-1', 'r-ok-2']);
      assert.equal(saved.get('r-ok-1').failedChunks.length, 0);
      assert.equal(saved.get('r-ok-1').reviews.length, 2);
      assert.equal(
        saved.get('r-bad-llm').failedChunks.length,
        2,
        'both chunks of the refused receipt failed',
      );
      assert.match(saved.get('r-bad-llm').failedChunks[0].reason, /invalid after 2 repairs/);
      assert.equal(run.callsOf('failRun').length, 0);
    });
  });

  test('a receipt whose LLM review fails ends FAILED with the reason', async () => {
    const env = testEnv();
    await withFakeWorkers(env, evaluationFakes(), async (run) => {
      const outcome = await env.client.workflow.execute(evaluateReceipt, {
        taskQueue: run.pipelineQueue,
        workflowId: 'wf-eval-receipt-llm-fails',
        args: [
          {
            settings: {
              runId: 'run-1',
              batchSize: 10,
              skipLlmReview: false,
              noCache: false,
              revalidate: false,
              widths: { merchants: 1, batches: 1, receipts: 1 },
              reviewChunkSize: 20,
              priority: 'normal',
              continueAsNewAfterBatches: 500,
              llmTaskQueue: run.llmQueue,
            },
            merchantId: 'm-1',
            receiptId: 'r-bad-llm',
          },
        ],
      });
      assert.equal(outcome.status, 'FAILED');
      assert.match(outcome.reason ?? '', /invalid after 2 repairs/);
      const [saved] = run.callsOf('saveReviewResults');
      assert.equal(saved.failedChunks.length, 1, 'the failure is saved with the receipt');
    });
  });

  test('receipts run inline in one batch: a refused credential stops the run, recorded as no item failure', async () => {
    const env = testEnv();
    const fakes = evaluationFakes({
      async reviewLabelIssues({
        receiptId,
        issues,
      }: {
        receiptId: string;
        issues: Array<{ wordId: string }>;
      }) {
        if (receiptId === 'r-bad-llm')
          throw ApplicationFailure.nonRetryable('401 from the provider: check the key', 'LlmProviderAuth');
        return issues.map((i) => ({ wordId: i.wordId, decision: 'VALID' }));
      },
    });
    await withFakeWorkers(env, fakes, async (run) => {
      const handle = await env.client.workflow.start(evaluateLabels, {
        taskQueue: run.pipelineQueue,
        workflowId: 'wf-eval-inline-breaker',
        // One batch of every receipt, all at once: they run inline in it.
        args: [{ llmTaskQueue: run.llmQueue, batchSize: 4, widths: { receipts: 4 } }],
      });
      const err = await failureOf(handle.result());
      assert.match(messages(err), /401 from the provider/);
      // As a child, r-ok-1 would have been this workflow; inline, there is none.
      await assert.rejects(
        env.client.workflow.getHandle('wf-eval-inline-breaker/m-1/b00000/r-ok-1').describe(),
        (e: Error) => e.name === 'WorkflowNotFoundError',
      );
      assert.ok(
        !run.callsOf('recordItemFailure').some((f) => f.itemId === 'r-bad-llm'),
        'the refused receipt is not an item failure of its own',
      );
      assert.ok(
        !run.callsOf('saveReviewResults').some((s) => s.receiptId === 'r-bad-llm'),
        'the refused receipt was saved as reviewed',
      );
      assert.equal(run.callsOf('failRun').length, 1);
    });
  });

  test('cancelling the root records the run CANCELLED through failRun', async () => {
    const env = testEnv();
    let listing!: () => void;
    const listed = new Promise<void>((resolve) => (listing = resolve));
    const fakes = evaluationFakes({
      // The merchant's listing never ends on its own: the run is mid-way when it is cancelled.
      async listReceiptIdPage() {
        listing();
        await Context.current().cancelled;
        return { receiptIds: [] };
      },
    });
    await withFakeWorkers(env, fakes, async (run) => {
      const handle = await env.client.workflow.start(evaluateLabels, {
        taskQueue: run.pipelineQueue,
        workflowId: 'wf-eval-cancel',
        args: [{ llmTaskQueue: run.llmQueue }],
      });
      await listed;
      await handle.cancel();
      const err = await failureOf(handle.result());
      assert.ok(err instanceof WorkflowFailedError, String(err));
      assert.ok(err.cause instanceof CancelledFailure, String(err.cause));
      const failed = run.callsOf('failRun');
      assert.equal(failed.length, 1);
      assert.equal(failed[0].status, 'CANCELLED');
      assert.equal(failed[0].runId, 'wf-eval-cancel');
    });
  });
});
