// Label harmonization on the time-skipping server with fake activities: a group that fails as a
// whole is recorded and the run goes on; a decision batch refused by the LLM is saved as failed for
// its words; the run completes with a report over every group.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { harmonizeLabels } from '../../src/workflows';
import { ApplicationFailure, useTimeSkipping, withFakeWorkers, type Fakes } from './fake-env';

interface GroupRef {
  merchantId: string;
  label: string;
}

const fakes: Fakes = {
  async startRun() {},
  async failRun() {},
  async validateHarmonizeInput() {
    return { labelTypes: ['TOTAL', 'DATE'] };
  },
  async listMerchantIds() {
    return ['m-1'];
  },
  // The DATE group's word list is gone: the group fails as a whole, non-retryably.
  async prepareHarmonizeGroup({ merchantId, label }: GroupRef) {
    if (label === 'DATE')
      throw ApplicationFailure.nonRetryable(
        `words of ${merchantId}/${label} are gone`,
        'HarmonizeArtifactMissing',
      );
    return { words: 3, embedBatches: 1, neighbourChunks: 1, exactNeighbours: true };
  },
  async embedWords() {},
  async upsertWordEmbeddings() {},
  async findWordNeighbours() {},
  async planOutlierDecisions() {
    return { batches: 2 };
  },
  async decideOutliers({ batchIndex }: { batchIndex: number }) {
    if (batchIndex === 1)
      throw ApplicationFailure.nonRetryable('the answer is invalid after 2 repairs', 'LlmInvalidAnswer');
  },
  async saveHarmonizeResults(input: GroupRef & { failedBatches: unknown[] }) {
    return {
      merchantId: input.merchantId,
      label: input.label,
      words: 3,
      succeeded: 2,
      failed: 1,
      failedBatches: input.failedBatches.length,
    };
  },
  async recordItemFailure() {},
  async buildHarmonizeReport(input: object) {
    return { ...input };
  },
};

describe('harmonization (time-skipping, fake activities)', { timeout: 120_000 }, () => {
  const testEnv = useTimeSkipping();

  test('a failed group is recorded, a refused decision batch saved as failed, the run completes', async () => {
    const env = testEnv();
    await withFakeWorkers(env, fakes, async (run) => {
      const report = await env.client.workflow.execute(harmonizeLabels, {
        taskQueue: run.pipelineQueue,
        workflowId: 'wf-harmonize',
        args: [{ llmTaskQueue: run.llmQueue, widths: { groups: 1 } }],
      });
      assert.equal(report.status, 'COMPLETED');
      const failures = run.callsOf('recordItemFailure');
      assert.deepEqual(
        failures.map((f) => f.itemId),
        ['group:m-1/DATE'],
      );
      assert.match(failures[0].reason, /words of m-1\/DATE are gone/);
      const [saved, ...more] = run.callsOf('saveHarmonizeResults');
      assert.equal(more.length, 0, 'only the TOTAL group is saved');
      assert.equal(saved.label, 'TOTAL');
      assert.deepEqual(
        saved.failedBatches.map((b: { batchIndex: number }) => b.batchIndex),
        [1],
      );
      assert.match(saved.failedBatches[0].reason, /invalid after 2 repairs/);
      const [built] = run.callsOf('buildHarmonizeReport');
      assert.equal(built.groups, 2);
      assert.equal(built.failedBatches, 1);
      assert.equal(run.callsOf('failRun').length, 0);
    });
  });

  test('a run whose input the store refuses fails, recorded FAILED through failRun', async () => {
    const env = testEnv();
    const refusing: Fakes = {
      ...fakes,
      async validateHarmonizeInput() {
        throw ApplicationFailure.nonRetryable('unknown label type NOPE', 'InvalidInput');
      },
    };
    await withFakeWorkers(env, refusing, async (run) => {
      await assert.rejects(
        env.client.workflow.execute(harmonizeLabels, {
          taskQueue: run.pipelineQueue,
          workflowId: 'wf-harmonize-fails',
          args: [{ llmTaskQueue: run.llmQueue, labelTypes: ['NOPE'] }],
        }),
      );
      const [failed] = run.callsOf('failRun');
      assert.equal(failed.status, 'FAILED');
      assert.match(failed.reason, /unknown label type NOPE/);
      assert.equal(run.callsOf('prepareHarmonizeGroup').length, 0, 'no group started');
    });
  });
});
