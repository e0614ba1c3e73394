// The label harmonizer on the real stack when its worker process is killed (kill -9) mid-run: a new
// worker completes the run, and nothing is redone beyond the LLM calls in flight at the kill.
// (Its own file so that `npm test` runs it beside harmonization.test.ts.)
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createStores } from '../src/deps';
import { harmonizerHarness, labelledWords, startHarmonize } from './helpers/harmonize-harness';
import type { Harness } from '../dev/harness/pipeline';
import {
  KILLED_PIPELINE_WORKER_ENV,
  killAllWorkerProcesses,
  spawnWorker,
  type WorkerProcess,
} from '../dev/harness/worker-process';

describe('label harmonization: kill -9 of the worker mid-run', { timeout: 6 * 60_000 }, () => {
  const workers: WorkerProcess[] = [];
  let h: Harness | undefined;
  after(async () => {
    killAllWorkerProcesses();
    await Promise.all(workers.map((w) => w.exited));
    await h?.close();
  });

  test('a new worker completes the run; nothing is redone beyond the calls in flight', async () => {
    const cap = 4;
    h = await harmonizerHarness({
      queues: [],
      emulator: { accuracy: 1, latencyMs: 150, jitterMs: 20 },
      env: { LLM_MAX_CONCURRENT_CALLS: String(cap), ...KILLED_PIPELINE_WORKER_ENV },
      dataset: { merchants: 2, receiptsPerMerchant: 15, seed: 21 },
    });
    const spawn = () => {
      const w = spawnWorker(h!.env, ['pipeline', 'llm']);
      workers.push(w);
      return w;
    };
    const first = spawn();
    await first.ready;
    const handle = await startHarmonize(h, { widths: { groups: 4 } });
    const { runs } = createStores(h.cfg);
    const decided = async () =>
      (await runs.listCalls(handle.workflowId)).filter((c) => c.task === 'label_outlier' && c.status === 'ok')
        .length;

    // Some decisions made, not all, and LLM calls in flight: the worst moment to die.
    let atKill: { decided: number; inFlight: number } | undefined;
    for (const deadline = Date.now() + 120_000; !atKill;) {
      assert.ok(Date.now() < deadline, 'the run never reached a partly decided state');
      const n = await decided();
      const inFlight = h.emulator.metrics().inFlight;
      if (n >= 3 && inFlight >= 1) {
        // Kill in the same tick as the look: the in-process emulator cannot answer in between.
        process.kill(first.pid, 'SIGKILL');
        atKill = { decided: n, inFlight };
      } else await new Promise((r) => setTimeout(r, 25));
    }
    assert.equal((await first.exited).signal, 'SIGKILL');

    const second = spawn();
    await second.ready;
    const report = await handle.result();
    const words = labelledWords(h);
    assert.equal(report.succeeded, words.length, JSON.stringify(report.failures));
    assert.equal(report.failed, 0);
    const results = await runs.listResults(report.runId);
    assert.deepEqual(results.map((r) => r.itemId).sort(), words.map((w) => w.wordId).sort());

    // Each LLM activity (embed or decide batch) succeeded once; provider requests beyond those are
    // the calls the dead worker had in flight, retried by Temporal.
    const calls = await runs.listCalls(report.runId);
    const activities = new Set(
      calls.filter((c) => c.status === 'ok').map((c) => c.callId.replace(/#\d+$/, '')),
    );
    assert.ok(activities.size > 0);
    const m = h.emulator.metrics();
    const redone = m.requests - activities.size;
    console.log(
      `harmonizer kill -9 figures: ${JSON.stringify({ words: words.length, cap, ...atKill, llmActivities: activities.size, providerRequests: m.requests, redone })}`,
    );
    assert.ok(redone >= atKill.inFlight, `${redone} redone < ${atKill.inFlight} in flight at the kill`);
    assert.ok(redone <= cap, `${redone} requests redone > cap ${cap}`);
    assert.ok(report.scores && report.scores.recall >= 0.9, `recall ${report.scores?.recall}`);
  });
});
