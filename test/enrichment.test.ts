// End to end: place enrichment (seed 004) on the real stack, real workers, the emulator over HTTP.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { History } from '@temporalio/common/lib/proto-utils';
import type { EnrichmentReport } from '../src/activities/enrich';
import { writePlaces } from '../dev/seed';
import { createStores } from '../src/deps';
import { generatePlaces, type PlacesDataset } from '../dev/generator/places';
import { PlaceStore } from '../src/stores/places';
import { startWorkers, type RunningWorkers } from '../src/worker';
import { enrichPlaces, type EnrichPlacesInput } from '../src/workflows/enrich';
import { startHarness, startRoot, workflowBundle, type Harness } from '../dev/harness/pipeline';

function startEnrichment(h: Harness, input: EnrichPlacesInput = {}) {
  return startRoot(h, enrichPlaces, 'enrich-', input);
}

async function runEnrichment(h: Harness, input: EnrichPlacesInput = {}): Promise<EnrichmentReport> {
  return (await (await startEnrichment(h, input)).result()) as EnrichmentReport;
}

/** Distinct place ids in each run's history of a workflow that continued as new, first run first. */
async function runChain(h: Harness, workflowId: string, firstRunId: string): Promise<number[]> {
  const out: number[] = [];
  for (let runId: string | undefined = firstRunId; runId;) {
    const history: History = await h.client.workflow.getHandle(workflowId, runId).fetchHistory();
    const text = JSON.stringify(history.events, (_k, v: unknown) =>
      v instanceof Uint8Array ? Buffer.from(v).toString('utf8') : v,
    );
    out.push(new Set(text.match(/p-\d{4}/g) ?? []).size);
    runId =
      history.events?.at(-1)?.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId ?? undefined;
  }
  return out;
}

describe('place enrichment: 40 seeded places, one combined LLM call each', () => {
  let h: Harness;
  let ds: PlacesDataset;
  let places: PlaceStore;
  let llmWorker: RunningWorkers | undefined;
  let report: EnrichmentReport;

  before(async () => {
    // Only the pipeline worker at first: the LLM worker starts once the base data is seen saved.
    h = await startHarness({
      queues: ['pipeline'],
      emulator: { accuracy: 1, latencyMs: 20 },
      env: { LLM_MAX_CONCURRENT_CALLS: '8' },
    });
    ds = generatePlaces({ count: 40, seed: 4 });
    await writePlaces(h.cfg, ds);
    places = new PlaceStore(createStores(h.cfg).receipts);
  });
  after(async () => {
    await llmWorker?.shutdown();
    await h?.close();
  });

  test('base data is saved PENDING before any LLM call; then every place is ENRICHED', async () => {
    const handle = await startEnrichment(h);
    const runId = handle.workflowId;
    // Batches are prefetched and marked with this run before any LLM worker exists.
    for (let i = 0; i < 200; i++) {
      const metas = await Promise.all(ds.places.slice(0, 10).map((p) => places.getMeta(p.placeId)));
      if (metas.every((m) => m?.status === 'PENDING' && m.pendingRun === runId)) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const first = await places.getMeta(ds.places[0]!.placeId);
    assert.equal(first?.pendingRun, runId, 'the first batch is marked for this run');
    assert.equal(first?.status, 'PENDING');
    assert.equal(h.emulator.metrics().requests, 0, 'no LLM call yet');

    llmWorker = await startWorkers(h.cfg, { queues: ['llm'], workflowBundle: await workflowBundle() });
    report = (await handle.result()) as EnrichmentReport;
    assert.equal(report.total, 40);
    assert.equal(report.placesEnriched, 40, JSON.stringify(report.failures));
    assert.equal(report.placesFailed, 0);
    for (const p of ds.places) {
      const meta = await places.getMeta(p.placeId);
      assert.equal(meta?.status, 'ENRICHED', p.placeId);
      assert.deepEqual(meta?.enrichment, ds.truth[p.placeId], `${p.placeId} has the oracle's answer`);
    }
  });

  test('at most one LLM call per place: 40 provider requests, one call each', () => {
    assert.ok(h.emulator.metrics().requests <= 40, `requests ${h.emulator.metrics().requests}`);
    assert.equal(report.llm.calls, 40);
    assert.equal(report.llm.providerRequests, 40);
    assert.equal(report.llmCallsPerPlace, 1);
    assert.ok(report.promptTokensPerPlace > 0);
    assert.deepEqual(report.accuracy, { womenOnlyHours: 1, amenities: 1, judged: 40 });
  });

  test('a rerun is answered from the cache: zero provider requests', async () => {
    h.emulator.reset();
    const again = await runEnrichment(h);
    assert.equal(again.placesEnriched, 40);
    assert.equal(h.emulator.metrics().requests, 0);
    assert.equal(again.llm.calls, 0);
    assert.equal(again.llm.cacheHits, 40);
  });

  test('continues as new every 2 batches and still enriches every place', async () => {
    const handle = await startEnrichment(h, {
      batchSize: 5,
      batchesInFlight: 1,
      continueAsNewAfterBatches: 2,
    });
    const r = (await handle.result()) as EnrichmentReport;
    assert.equal(r.total, 40);
    assert.equal(r.placesEnriched, 40);
    // One call record per place across the continued runs (none overwritten by another run's).
    assert.equal(r.llm.cacheHits, 40);
    const desc = await handle.describe();
    assert.notEqual(desc.runId, desc.raw.workflowExecutionInfo?.firstRunId);
    // No run's history carries the place list: each holds at most the page it listed (2 batches of
    // 5 places), not the 40 (the list used to travel in a result and every continue-as-new input).
    const runs = await runChain(h, handle.workflowId, desc.raw.workflowExecutionInfo!.firstRunId!);
    // 4 runs of 2 batches (and a last one that finds the list ended: the cap was reached exactly).
    assert.ok(runs.length >= 4, `${runs.length} runs: continued as new after every 2 batches of 5`);
    for (const placeIdsInHistory of runs)
      assert.ok(placeIdsInHistory <= 10, `${placeIdsInHistory} place ids`);
  });

  test('an invalid answer and a bad review record end FAILED with reasons; the others ENRICHED', async () => {
    // A place the oracle knows nothing about gets a one-sentence description: invalid for the
    // 3-4 sentence schema even after repairs. Another has a review without text.
    const [unknown, broken] = generatePlaces({ count: 2, seed: 99 }).places.map((p, i) => ({
      ...p,
      placeId: `p-900${i}`,
    }));
    await places.putPlaces([unknown!, broken!]);
    await places.putReview(broken!.placeId, { reviewIndex: 1, author: 'x', rating: 5, text: '' });
    h.emulator.reset();
    const r = await runEnrichment(h, {
      placeIds: [ds.places[0]!.placeId, unknown!.placeId, broken!.placeId, ds.places[1]!.placeId],
      noCache: true,
    });
    assert.equal(r.total, 4);
    assert.equal(r.placesEnriched, 2, JSON.stringify(r.failures));
    assert.equal(r.placesFailed, 2);
    const reasons = new Map(r.failures.map((f) => [f.itemId, f.reason]));
    assert.match(reasons.get(unknown!.placeId) ?? '', /description.*3-4 sentences/);
    assert.match(reasons.get(broken!.placeId) ?? '', /InvalidPlace: review 1 has no text/);
    const unknownMeta = await places.getMeta(unknown!.placeId);
    assert.equal(unknownMeta?.status, 'FAILED');
    assert.match(unknownMeta?.reason ?? '', /3-4 sentences/);
    assert.equal((await places.getMeta(broken!.placeId))?.status, 'FAILED');
    assert.equal((await places.getMeta(ds.places[0]!.placeId))?.status, 'ENRICHED');
    // The invalid answer was repaired (LLM_REPAIR_ATTEMPTS, default 2) and then given up: 3 requests;
    // the bad record never reached the LLM.
    assert.equal(h.emulator.metrics().requests, 2 + 3);
  });
});
