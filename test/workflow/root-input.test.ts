// Root inputs on the time-skipping server: a bad run id fails before any activity is called; a bad
// field fails non-retryably naming the field, with only the run's failure recorded (failRun); every
// case of the bad-input table (root-input-cases.ts) fails at once, without a failed workflow task.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { embedBackfill, enrichPlaces, evaluateLabels } from '../../src/workflows';
import { failureOf, useTimeSkipping, withFakeWorkers, type Fakes } from './fake-env';
import { ROOT_INPUT_CASES } from './root-input-cases';

/** Every activity a root could call first; none of them should be reached but failRun. */
const fakes: Fakes = {
  async failRun() {},
  async startRun() {},
  async listMerchantIds() {
    return [];
  },
  async listPlaceIds() {
    return [];
  },
  async listPlaceIdPage() {
    return { placeIds: [] };
  },
  async embeddingSettings() {
    throw new Error('not to be called');
  },
};

function assertInvalidInput(err: Error, says: RegExp): void {
  assert.ok(err instanceof WorkflowFailedError, String(err));
  assert.ok(err.cause instanceof ApplicationFailure, String(err.cause));
  assert.equal(err.cause.type, 'InvalidInput');
  assert.equal(err.cause.nonRetryable, true);
  assert.match(err.cause.message, says);
}

describe('root inputs (time-skipping, fake activities)', { timeout: 120_000 }, () => {
  const testEnv = useTimeSkipping();

  test('a bad run id fails non-retryably before any activity is called', async () => {
    const env = testEnv();
    await withFakeWorkers(env, fakes, async (run) => {
      const err = await failureOf(
        env.client.workflow.execute(evaluateLabels, {
          taskQueue: run.pipelineQueue,
          workflowId: 'wf-bad-run-id',
          args: [{ runId: '../etc/passwd', llmTaskQueue: run.llmQueue }],
        }),
      );
      assertInvalidInput(err, /runId .*outside A-Z a-z 0-9/);
      assert.deepEqual(run.calls, [], 'no activity was called');
    });
  });

  for (const c of [
    {
      name: 'evaluateLabels',
      start: evaluateLabels,
      input: { batchSize: 0 },
      says: /batchSize must be an integer from 1/,
    },
    {
      name: 'enrichPlaces',
      start: enrichPlaces,
      input: { placeIds: ['ok', 'a/b'] },
      says: /placeIds\[1\] has characters outside/,
    },
    {
      name: 'embedBackfill',
      start: embedBackfill,
      input: { kinds: ['LINES'] },
      says: /kinds\[0\] must be one of LINE, WORD/,
    },
  ] as const) {
    test(`${c.name}: a bad field fails naming it; only the failure is recorded`, async () => {
      const env = testEnv();
      await withFakeWorkers(env, fakes, async (run) => {
        const runId = `wf-bad-${c.name}`;
        const err = await failureOf(
          env.client.workflow.execute(c.start as typeof evaluateLabels, {
            taskQueue: run.pipelineQueue,
            workflowId: runId,
            args: [{ ...(c.input as object), runId, llmTaskQueue: run.llmQueue }],
          }),
        );
        assertInvalidInput(err, c.says);
        assert.deepEqual(
          run.calls.map((call) => call.name),
          ['failRun'],
          'nothing but the failure recorded',
        );
        const [failed] = run.callsOf('failRun');
        assert.equal(failed.runId, runId);
        assert.equal(failed.status, 'FAILED');
        assert.match(failed.reason, c.says);
      });
    });
  }
});

describe('every bad root input of the table (time-skipping, fake activities)', { timeout: 120_000 }, () => {
  const testEnv = useTimeSkipping();

  for (const c of ROOT_INPUT_CASES) {
    test(`${c.workflow} ${JSON.stringify(c.input)} fails at once: ${c.says.source}`, async () => {
      const env = testEnv();
      await withFakeWorkers(env, fakes, async (run) => {
        const runId = `wf-bad-${c.workflow}-${ROOT_INPUT_CASES.indexOf(c)}`;
        const err = await failureOf(
          env.client.workflow.execute(c.workflow, {
            taskQueue: run.pipelineQueue,
            workflowId: runId,
            args: [{ runId, ...c.input }],
          }),
        );
        assertInvalidInput(err, c.says);
        assert.deepEqual(
          run.calls.map((call) => call.name),
          ['failRun'],
          'nothing but the failure recorded',
        );
        assert.match(run.callsOf('failRun')[0].reason, c.says);
        const { events } = await env.client.workflow.getHandle(runId).fetchHistory();
        const types = (events ?? []).map((e) => String(e.eventType));
        // 8 = WORKFLOW_TASK_FAILED (a throwing workflow task retried), 7 = WORKFLOW_EXECUTION_FAILED
        assert.ok(!types.includes('8'), `no workflow task failed: ${types.join(',')}`);
        assert.ok(types.includes('7'), 'the execution failed');
      });
    });
  }
});
