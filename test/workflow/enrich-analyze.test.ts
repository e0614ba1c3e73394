// Place enrichment and test-suite analysis on the time-skipping server with fake activities: an item
// whose LLM call fails for good is recorded with its reason, the others are saved, and the root
// continues as new (after N batches / pages) and still completes.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { analyzeTestSuite, enrichPlaces } from '../../src/workflows';
import { ApplicationFailure, useTimeSkipping, withFakeWorkers, type Fakes } from './fake-env';

const refused = (what: string) =>
  ApplicationFailure.nonRetryable(`${what}: the answer is invalid after 2 repairs`, 'LlmInvalidAnswer');

const lifecycle: Fakes = {
  async startRun() {},
  async failRun() {},
};

describe('enrichment and analysis (time-skipping, fake activities)', { timeout: 120_000 }, () => {
  const testEnv = useTimeSkipping();

  test('enrichment: a place whose LLM call fails is recorded; the run continues as new and completes', async () => {
    const env = testEnv();
    const fakes: Fakes = {
      ...lifecycle,
      // The store's places, paged after a cursor (the last place id listed).
      async listPlaceIdPage({ after, limit }: { after?: string; limit: number }) {
        const ids = ['p-1', 'p-2', 'p-3', 'p-4'].filter((id) => after === undefined || id > after);
        return { placeIds: ids.slice(0, limit), total: 4 };
      },
      async prefetchPlaces({ placeIds }: { placeIds: string[] }) {
        return { places: placeIds.map((placeId) => ({ placeId, name: placeId })), failed: [] };
      },
      async enrichPlace({ place }: { place: { placeId: string } }) {
        if (place.placeId === 'p-2') throw refused(place.placeId);
        return { category: 'SHOP' };
      },
      async savePlaceEnrichment() {},
      async recordPlaceFailure() {},
      async buildEnrichmentReport(input: object) {
        return { ...input };
      },
    };
    await withFakeWorkers(env, fakes, async (run) => {
      const handle = await env.client.workflow.start(enrichPlaces, {
        taskQueue: run.pipelineQueue,
        workflowId: 'wf-enrich',
        args: [
          { llmTaskQueue: run.llmQueue, batchSize: 1, batchesInFlight: 1, continueAsNewAfterBatches: 2 },
        ],
      });
      const report = await handle.result();
      assert.equal(report.status, 'COMPLETED');
      const last = await handle.describe();
      assert.notEqual(last.runId, handle.firstExecutionRunId, 'the root continued as new');
      assert.equal(run.callsOf('startRun').length, 1, 'the run is started once, not again when continued');
      // Each run lists its page after the last place the previous run started: the list is never carried.
      assert.deepEqual(
        run.callsOf('listPlaceIdPage').map((c) => c.after ?? null),
        [null, 'p-2', 'p-4'],
      );
      assert.deepEqual(
        run.callsOf('savePlaceEnrichment').map((s) => s.placeId),
        ['p-1', 'p-3', 'p-4'],
      );
      const failed = run.callsOf('recordPlaceFailure');
      assert.deepEqual(
        failed.map((f) => f.placeId),
        ['p-2'],
      );
      assert.match(failed[0].reason, /p-2: the answer is invalid/);
    });
  });

  test('analysis: a function whose LLM call fails stays unanalyzed with the reason; pages continue as new', async () => {
    const env = testEnv();
    const functions = ['f-1', 'f-2', 'f-3'].map((id, i) => ({
      id,
      path: 'a.test.ts',
      fullName: `suite ${id}`,
      startLine: 10 * i,
    }));
    const fakes: Fakes = {
      ...lifecycle,
      async scanTestSuite() {
        return { files: 1, functions: 3, uncertain: functions.length };
      },
      async listUncertainFunctions({ from, limit }: { from: number; limit: number }) {
        return functions.slice(from, from + limit);
      },
      async analyzeTestFunction({ fn }: { fn: { id: string } }) {
        if (fn.id === 'f-2') throw refused(fn.id);
        return { verdict: 'OK' };
      },
      async saveFunctionVerdict() {},
      async recordFunctionUnanalyzed() {},
      async buildQualityReport(input: object) {
        return { ...input };
      },
    };
    await withFakeWorkers(env, fakes, async (run) => {
      const handle = await env.client.workflow.start(analyzeTestSuite, {
        taskQueue: run.pipelineQueue,
        workflowId: 'wf-analyze',
        args: [{ path: '/suite', llmTaskQueue: run.llmQueue, pageSize: 1, continueAsNewAfterPages: 1 }],
      });
      const report = await handle.result();
      assert.equal(report.status, 'COMPLETED');
      assert.notEqual((await handle.describe()).runId, handle.firstExecutionRunId, 'continued as new');
      assert.equal(run.callsOf('scanTestSuite').length, 1, 'the suite is scanned once');
      assert.deepEqual(
        run.callsOf('saveFunctionVerdict').map((s) => s.fn.id),
        ['f-1', 'f-3'],
      );
      const unanalyzed = run.callsOf('recordFunctionUnanalyzed');
      assert.deepEqual(
        unanalyzed.map((u) => u.fn.id),
        ['f-2'],
      );
      assert.match(unanalyzed[0].reason, /f-2: the answer is invalid/);
    });
  });
});
