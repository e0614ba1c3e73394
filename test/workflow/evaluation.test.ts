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
    // Inline batches review a receipt whole on the llm queue: read, every chunk's call, save in one
    // activity. The fake answers as prepare + review + save would have.
    async reviewReceipt({ receiptId }: { receiptId: string }) {
      if (receiptId === 'r-missing')
        throw ApplicationFailure.nonRetryable(`receipt ${receiptId} not found`, 'ReceiptNotFound');
      if (receiptId === 'r-bad-llm')
        return {
          issueCount: 2,
          failedChunks: 2,
          reason:
            'chunk 0: the answer is invalid after 2 repairs; chunk 1: the answer is invalid after 2 repairs',
        };
      return { issueCount: 2, failedChunks: 0 };
    },
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
      // Each receipt is one activity on the llm queue: no separate read, chunk review or save.
      assert.deepEqual(
        run
          .callsOf('reviewReceipt')
          .map((r) => r.receiptId)
          .sort(),
        [...RECEIPTS].sort(),
      );
      assert.ok(run.callsOf('reviewReceipt').every((r) => r.chunkSize === 1 && r.runId));
      for (const step of ['prepareReceiptReview', 'reviewLabelIssues', 'saveReviewResults'])
        assert.deepEqual(run.callsOf(step), [], `${step} is part of reviewReceipt now`);
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

  test('a receipt reviewed whole (inline) whose chunks failed for good ends FAILED with their reasons', async () => {
    const env = testEnv();
    await withFakeWorkers(env, evaluationFakes(), async (run) => {
      const settings = {
        runId: 'run-2',
        batchSize: 10,
        skipLlmReview: false,
        noCache: false,
        revalidate: false,
        widths: { merchants: 1, batches: 1, receipts: 1 },
        reviewChunkSize: 1,
        priority: 'normal' as const,
        continueAsNewAfterBatches: 500,
        llmTaskQueue: run.llmQueue,
      };
      const outcome = (id: string, receiptId: string) =>
        env.client.workflow.execute(evaluateReceipt, {
          taskQueue: run.pipelineQueue,
          workflowId: id,
          args: [{ settings, merchantId: 'm-1', receiptId, inline: true }],
        });
      const bad = await outcome('wf-eval-whole-bad', 'r-bad-llm');
      assert.deepEqual([bad.status, bad.issues], ['FAILED', 2]);
      assert.match(bad.reason ?? '', /chunk 0: the answer is invalid after 2 repairs; chunk 1/);
      assert.deepEqual(run.callsOf('recordItemFailure'), [], 'its result was saved by the activity');
      const ok = await outcome('wf-eval-whole-ok', 'r-ok-1');
      assert.deepEqual([ok.status, ok.issues], ['SUCCEEDED', 2]);
      const missing = await outcome('wf-eval-whole-missing', 'r-missing');
      assert.equal(missing.status, 'FAILED');
      assert.deepEqual(
        run.callsOf('recordItemFailure').map((f) => f.itemId),
        ['r-missing'],
        'a receipt that cannot be read is recorded by the workflow',
      );
    });
  });

  test('receipts run inline in one batch: a refused credential stops the run, recorded as no item failure', async () => {
    const env = testEnv();
    const fakes = evaluationFakes({
      async reviewReceipt({ receiptId }: { receiptId: string }) {
        if (receiptId === 'r-bad-llm')
          throw ApplicationFailure.nonRetryable('401 from the provider: check the key', 'LlmProviderAuth');
        return { issueCount: 2, failedChunks: 0 };
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
        run.callsOf('reviewReceipt').some((r) => r.receiptId === 'r-bad-llm'),
        'the refused receipt was reviewed whole',
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
