// The embedding backfill on the time-skipping server with fake activities: a batch the provider
// FAILS has its items released with the reason by its poll workflow; the backfill resubmits them in
// the next round, gives them up when that batch fails too (maxRounds 2), and completes.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DEFAULT_EMBED_SETTINGS } from '../../src/domain/embedding';
import { embedBackfill } from '../../src/workflows';
import { useTimeSkipping, withFakeWorkers, type Fakes } from './fake-env';

interface Release {
  batchKey: string;
  reason: string;
  finalStatus: string;
}

function backfillFakes(releases: Release[]): Fakes {
  let calls = 0;
  return {
    async startRun() {},
    async failRun() {},
    async embeddingSettings() {
      return { ...DEFAULT_EMBED_SETTINGS, maxRounds: 2 };
    },
    async redriveFailedEmbeddingDeltas() {
      return { redriven: 0 };
    },
    async sweepStaleEmbeddingItems() {
      return { swept: 0 };
    },
    async requestEmbeddingCompaction() {},
    // Each round: one batch of 5 words submitted, then nothing left to claim.
    async submitEmbeddingBatch({ runId, seq }: { runId: string; seq: number }) {
      const submitted = calls++ % 2 === 0;
      return {
        batchKey: `${runId}/word-${String(seq).padStart(5, '0')}`,
        state: submitted ? 'SUBMITTED' : 'EMPTY',
        candidates: submitted ? 5 : 0,
        itemCount: submitted ? 5 : 0,
        retried: 0,
      };
    },
    async checkEmbeddingBatch() {
      return {
        status: 'failed',
        requestCounts: { total: 0, completed: 0, failed: 0 },
        errors: ['invalid_json_line (line 3): not JSON'],
      };
    },
    async processEmbeddingBatch() {
      throw new Error('a failed batch has no results to process');
    },
    // The first failure sends the items back; the second spends their attempts.
    async releaseEmbeddingBatch(input: Release) {
      releases.push(input);
      const last = releases.length > 1;
      return {
        batchKey: input.batchKey,
        kind: 'WORD',
        finalStatus: input.finalStatus,
        embedded: 0,
        released: last ? 0 : 5,
        failed: last ? 5 : 0,
        promptTokens: 0,
        turnaroundMs: 0,
      };
    },
    async embeddingBatchOutcomes() {
      return [];
    },
    async closedEmbeddingPollers() {
      return [];
    },
    async countPendingEmbeddingDeltas() {
      return 0;
    },
    async buildEmbeddingReport(input: object) {
      return { ...input };
    },
  };
}

describe('embedding backfill (time-skipping, fake activities)', { timeout: 120_000 }, () => {
  const testEnv = useTimeSkipping();

  test('a FAILED batch is released with the reason, resubmitted next round, then given up', async () => {
    const env = testEnv();
    const releases: Release[] = [];
    await withFakeWorkers(env, backfillFakes(releases), async (run) => {
      const report = await env.client.workflow.execute(embedBackfill, {
        taskQueue: run.pipelineQueue,
        workflowId: 'wf-embed-failed-batch',
        args: [{ kinds: ['WORD'] }],
      });
      assert.equal(report.status, 'COMPLETED');
      assert.equal(report.rounds, 2, 'the released items were resubmitted in a second round');
      const submitted = run.callsOf('submitEmbeddingBatch');
      assert.equal(submitted.length, 4, 'one batch and one empty look per round');
      assert.deepEqual(
        releases.map((r) => [r.batchKey, r.finalStatus]),
        [
          ['wf-embed-failed-batch/word-00000', 'failed'],
          ['wf-embed-failed-batch/word-00002', 'failed'],
        ],
      );
      for (const r of releases) assert.match(r.reason, /batch failed: invalid_json_line \(line 3\)/);
      assert.equal(run.callsOf('processEmbeddingBatch').length, 0, 'a failed batch has no output to read');
      assert.equal(run.callsOf('failRun').length, 0);
    });
  });
});
