// Root workflow inputs: a bad field fails the run at once (InvalidInput, non-retryable, the field and
// its range named), the run record says FAILED with that reason, and no workflow task is retried.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { createStores } from '../src/deps';
import { idRuleBroken } from '../src/domain/ids';
import { startHarness, uniqueId, type Harness } from './helpers/pipeline';

interface Case {
  workflow: string;
  input: Record<string, unknown>;
  /** What the failure message must say. */
  says: RegExp;
}

const CASES: Case[] = [
  {
    workflow: 'evaluateLabels',
    input: { batchSize: 0 },
    says: /batchSize must be an integer from 1 to 1000, got 0/,
  },
  {
    workflow: 'evaluateLabels',
    input: { widths: { receipts: -1 }, merchantIds: ['../etc'] },
    says: /merchantIds\[0\] has characters outside.*; widths\.receipts must be an integer from 1 to 1000, got -1/,
  },
  { workflow: 'evaluateLabels', input: { batchsize: 5 }, says: /input has unknown fields batchsize/ },
  {
    workflow: 'enrichPlaces',
    input: { batchSize: 0 },
    says: /batchSize must be an integer from 1 to 100, got 0/,
  },
  { workflow: 'enrichPlaces', input: { batchesInFlight: 1.5 }, says: /batchesInFlight must be an integer/ },
  {
    workflow: 'analyzeTestSuite',
    input: { path: '/tmp', pageSize: 0 },
    says: /pageSize must be an integer from 1 to 200/,
  },
  { workflow: 'analyzeTestSuite', input: {}, says: /path or s3Prefix must be given/ },
  {
    workflow: 'analyzeTestSuite',
    input: { s3Prefix: 'a/../b' },
    says: /s3Prefix must not contain a "\.\." segment/,
  },
  {
    workflow: 'harmonizeLabels',
    input: { embedBatchSize: 0 },
    says: /embedBatchSize must be an integer from 1 to 2048/,
  },
  {
    workflow: 'harmonizeLabels',
    input: { widths: { groups: 0 } },
    says: /widths\.groups must be an integer/,
  },
  {
    workflow: 'embedBackfill',
    input: { settings: { maxRequestsPerBatch: 0 } },
    says: /settings\.maxRequestsPerBatch must be an integer from 1 to 50000/,
  },
  { workflow: 'embedBackfill', input: { kinds: ['LINES'] }, says: /kinds\[0\] must be one of LINE, WORD/ },
  {
    workflow: 'embedBackfill',
    input: { settings: { pollMs: 5 } },
    says: /settings has unknown fields pollMs/,
  },
];

describe('root workflow inputs are checked first', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ queues: ['pipeline'] });
  });
  after(async () => h?.close());

  for (const c of CASES) {
    test(`${c.workflow} ${JSON.stringify(c.input)} fails at once: ${c.says.source}`, async () => {
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
  }

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
