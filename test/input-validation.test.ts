// Root workflow inputs on the real stack: a bad field fails the run at once (InvalidInput,
// non-retryable, the field named), the run record in DynamoDB says FAILED with that reason, and no
// workflow task is retried. Every other bad input is checked on the time-skipping server
// (test/workflow/root-input.test.ts, same cases).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { createStores } from '../src/deps';
import { idRuleBroken } from '../src/domain/ids';
import { startHarness, uniqueId, type Harness } from '../dev/harness/pipeline';
import { ROOT_INPUT_CASES } from './workflow/root-input-cases';

/** One case on the real stack: what only it shows is the run record failRun writes in DynamoDB. */
const c = ROOT_INPUT_CASES[0]!;

describe('root workflow inputs are checked first', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ queues: ['pipeline'] });
  });
  after(async () => h?.close());

  test(`${c.workflow} ${JSON.stringify(c.input)} fails at once, and its run record says why: ${c.says.source}`, async () => {
    const runId = uniqueId('bad-');
    const err = await h.client.workflow
      .execute(c.workflow, {
        taskQueue: h.cfg.TASK_QUEUE_PIPELINE,
        workflowId: runId,
        args: [{ runId, ...c.input }],
      })
      .then(
        () => assert.fail('the run completed'),
        (e: unknown) => e,
      );
    assert.ok(err instanceof WorkflowFailedError, String(err));
    assert.ok(err.cause instanceof ApplicationFailure, String(err.cause));
    assert.equal(err.cause.type, 'InvalidInput');
    assert.equal(err.cause.nonRetryable, true);
    assert.match(err.cause.message, c.says);

    const run = await createStores(h.cfg).runs.getRun(runId);
    assert.equal(run?.status, 'FAILED');
    assert.match(String(run?.report?.reason), c.says);

    const { events } = await h.client.workflow.getHandle(runId).fetchHistory();
    const types = (events ?? []).map((e) => String(e.eventType));
    // 8 = WORKFLOW_TASK_FAILED (a throwing workflow task retried), 7 = WORKFLOW_EXECUTION_FAILED
    assert.ok(!types.includes('8'), `no workflow task failed: ${types.join(',')}`);
    assert.ok(types.includes('7'), 'the execution failed');
  });

  test('a bad run id fails before anything is recorded under it', async () => {
    const workflowId = uniqueId('bad-');
    const err = await h.client.workflow
      .execute('evaluateLabels', {
        taskQueue: h.cfg.TASK_QUEUE_PIPELINE,
        workflowId,
        args: [{ runId: '../../etc/passwd' }],
      })
      .then(
        () => assert.fail('the run completed'),
        (e: unknown) => e,
      );
    assert.ok(err instanceof WorkflowFailedError && err.cause instanceof ApplicationFailure, String(err));
    assert.equal(err.cause.type, 'InvalidInput');
    assert.match(err.cause.message, /runId has characters outside A-Z a-z 0-9/);
    // The stores refuse to form a key from such an id at all: nothing can be recorded under it.
    await assert.rejects(createStores(h.cfg).runs.getRun('../../etc/passwd'), { name: 'InvalidInput' });
  });
});

describe('ids', () => {
  test('letters, digits, _ . : -, bounded, no ".."', () => {
    for (const ok of [
      'm-0001',
      'evaluate-20261202T071500-ab12',
      'PRODUCT_NAME',
      'embed:2026-12-02T07:00:00Z',
    ])
      assert.equal(idRuleBroken(ok), undefined, ok);
    for (const bad of ['', '../x', 'a..b', 'a/b', 'a b', 'x'.repeat(101), 5, null])
      assert.ok(idRuleBroken(bad), JSON.stringify(bad));
  });
});
