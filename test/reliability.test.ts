// Reliability: worker processes killed (SIGKILL) or stopped (SIGTERM) in the middle of a label
// evaluation; a new worker finishes the run with every receipt's result written exactly once.
import os from 'node:os';
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { WorkflowHandle } from '@temporalio/client';
import type { EvaluationReport } from '../src/activities/evaluate';
import { createStores } from '../src/deps';
import { evaluateLabels, type EvaluateLabelsInput } from '../src/workflows/evaluate';
import { startHarness, startRoot, type Harness } from '../dev/harness/pipeline';
import {
  KILLED_PIPELINE_WORKER_ENV,
  killAllWorkerProcesses,
  spawnWorker,
  waitForExit,
  type WorkerProcess,
} from '../dev/harness/worker-process';

const MERCHANTS = 2;
const RECEIPTS_PER_MERCHANT = 15;
const RECEIPTS = MERCHANTS * RECEIPTS_PER_MERCHANT;
/** Issues per LLM call: small, so each receipt makes a few calls and the run lasts several seconds. */
const REVIEW_CHUNK_SIZE = 8;
/** The worker's shutdownGraceTime (src/worker.ts). */
const SHUTDOWN_GRACE_MS = 10_000;
/**
 * A run that has not finished after this is a hang (a killed worker's activities are retried after
 * their timeouts: 10 s without a heartbeat for LLM calls, 30 s for receipt steps).
 */
const RUN_DEADLINE_MS = 4 * 60_000;
const TEST_TIMEOUT_MS = 6 * 60_000;

function harness(cap: number): Promise<Harness> {
  return startHarness({
    queues: [],
    emulator: { latencyMs: 150, jitterMs: 20, accuracy: 1 },
    env: { LLM_MAX_CONCURRENT_CALLS: String(cap), ...KILLED_PIPELINE_WORKER_ENV },
    dataset: { merchants: MERCHANTS, receiptsPerMerchant: RECEIPTS_PER_MERCHANT, seed: 21 },
  });
}

async function startRun(
  h: Harness,
  input: EvaluateLabelsInput = {},
): Promise<WorkflowHandle<typeof evaluateLabels>> {
  return startRoot(h, evaluateLabels, 'rel-', { reviewChunkSize: REVIEW_CHUNK_SIZE, ...input });
}

/** Polls `check` until it returns a value (not undefined); fails naming `what` after `ms`. */
async function waitFor<T>(what: string, check: () => Promise<T | undefined>, ms = 120_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`gave up after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** The run's result, or a failure naming the worker output when it does not finish. */
async function resultOf(
  handle: WorkflowHandle<typeof evaluateLabels>,
  workers: WorkerProcess[],
): Promise<EvaluationReport> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new Error(
            `run ${handle.workflowId} did not finish in ${RUN_DEADLINE_MS} ms; worker output:\n` +
              workers.map((w) => `--- pid ${w.pid} (${w.queues.join(',')})\n${w.output()}`).join('\n'),
          ),
        ),
      RUN_DEADLINE_MS,
    );
  });
  try {
    return await Promise.race([handle.result(), deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * What every completed run must show however its workers died: one RESULT per receipt, all
 * succeeded, and each receipt's reviewed words carrying this run's label update, no more, no less.
 */
async function assertEveryReceiptOnce(h: Harness, report: EvaluationReport): Promise<void> {
  assert.equal(report.total, RECEIPTS);
  assert.equal(report.succeeded, RECEIPTS, JSON.stringify(report.failures));
  assert.equal(report.failed, 0);
  const { runs, receipts } = createStores(h.cfg);
  const results = await runs.listResults(report.runId);
  const ids = results.map((r) => r.itemId).sort();
  const expected = h.dataset!.receipts.map((r) => r.receiptId).sort();
  assert.deepEqual(ids, expected, 'exactly one RESULT item per receipt');
  let reviewedWords = 0;
  for (const r of results) {
    const detail = r.detail as { reviews?: Array<{ wordId: string; decision: string }> };
    const all = (detail.reviews ?? []).map((x) => x.wordId);
    assert.equal(new Set(all).size, all.length, `${r.itemId}: a word reviewed twice`);
    // NEEDS_REVIEW changes nothing (the seed's write-back): only the other decisions update a word.
    const reviewed = (detail.reviews ?? [])
      .filter((x) => x.decision !== 'NEEDS_REVIEW')
      .map((x) => x.wordId)
      .sort();
    const words = await receipts.queryPrefix(`RECEIPT#${r.itemId}`, 'LINE#');
    const updated = words
      .filter((w) => w.type === 'WORD' && w.reviewedByRun === report.runId)
      .map((w) => String(w.wordId))
      .sort();
    assert.deepEqual(updated, reviewed, `${r.itemId}: label updates of this run = its reviews`);
    reviewedWords += reviewed.length;
  }
  assert.ok(reviewedWords > 0, 'the run reviewed some words');
}

/** Provider requests a clean run makes: one per chunk of issues (no repairs, no 429s here). */
async function cleanRunRequests(h: Harness, runId: string): Promise<number> {
  const results = await createStores(h.cfg).runs.listResults(runId);
  return results.reduce(
    (n, r) => n + Math.ceil(((r.detail as { issues?: number }).issues ?? 0) / REVIEW_CHUNK_SIZE),
    0,
  );
}

async function resultCount(h: Harness, runId: string): Promise<number> {
  return (await createStores(h.cfg).runs.listResults(runId)).length;
}

// The three runs go at once: each has its own harness and worker processes, and most of a test's
// time is waiting (for a killed worker's heartbeats to time out, for a graceful shutdown).
describe(
  'reliability: worker processes die mid-run',
  { timeout: TEST_TIMEOUT_MS * 3, concurrency: true },
  () => {
    const workers: WorkerProcess[] = [];
    const harnesses: Harness[] = [];
    const spawn = (h: Harness, queues: Parameters<typeof spawnWorker>[1]) => {
      const w = spawnWorker(h.env, queues);
      workers.push(w);
      return w;
    };

    after(async () => {
      killAllWorkerProcesses();
      await Promise.all(workers.map((w) => w.exited));
      for (const h of harnesses) await h.close();
    });

    test(
      'kill -9 of the worker process mid-run: a new worker completes it, each result written once',
      { timeout: TEST_TIMEOUT_MS },
      async () => {
        const cap = 4;
        const h = await harness(cap);
        harnesses.push(h);
        const first = spawn(h, ['pipeline', 'llm']);
        await first.ready;
        const handle = await startRun(h);
        const runId = handle.workflowId;

        // Some receipts done, not all, and LLM calls in flight: the worst moment to die.
        const atKill = await waitFor('a partly done run with LLM calls in flight', async () => {
          const done = await resultCount(h, runId);
          assert.ok(done < RECEIPTS, `the run finished before the kill (${done} results): make it longer`);
          const inFlight = h.emulator.metrics().inFlight;
          // Kill in the same tick as the look: the in-process emulator cannot answer in between.
          if (done >= 3 && inFlight >= 1) {
            process.kill(first.pid, 'SIGKILL');
            return { done, inFlight, requests: h.emulator.metrics().requests };
          }
          return undefined;
        });
        const exit = await first.exited;
        assert.equal(exit.signal, 'SIGKILL');
        const writtenBeforeKill = await createStores(h.cfg).runs.listResults(runId);

        const second = spawn(h, ['pipeline', 'llm']);
        await second.ready;
        const report = await resultOf(handle, [first, second]);
        await assertEveryReceiptOnce(h, report);
        // Results written before the kill were not written again by the new worker.
        const after = new Map((await createStores(h.cfg).runs.listResults(runId)).map((r) => [r.itemId, r]));
        for (const r of writtenBeforeKill) assert.deepEqual(after.get(r.itemId), r, `${r.itemId} rewritten`);

        const m = h.emulator.metrics();
        const clean = await cleanRunRequests(h, runId);
        const redone = m.requests - clean;
        console.log(
          `kill -9 figures: ${JSON.stringify({
            receipts: RECEIPTS,
            cap,
            resultsAtKill: atKill.done,
            providerRequestsAtKill: atKill.requests,
            providerCallsInFlightAtKill: atKill.inFlight,
            providerRequestsCleanRun: clean,
            providerRequestsKilledRun: m.requests,
            requestsRedone: redone,
            reportCalls: report.llm.calls,
            reportProviderRequests: report.llm.providerRequests,
            reportCacheHits: report.llm.cacheHits,
          })}`,
        );
        assert.equal(m.rateLimited, 0);
        // Every chunk reached the provider at least once; only calls in flight at the kill were redone.
        assert.ok(m.requests >= clean, `${m.requests} requests < ${clean} chunks`);
        assert.ok(redone >= atKill.inFlight, `${redone} redone < ${atKill.inFlight} in flight at the kill`);
        assert.ok(redone <= cap, `${redone} requests redone > cap ${cap}`);
        assert.ok(report.llm.calls <= clean, `${report.llm.calls} calls > ${clean} chunks`);
        assert.ok(
          m.requests <= report.llm.calls + cap,
          `${m.requests} provider requests > ${report.llm.calls} calls + cap ${cap}`,
        );
      },
    );

    test(
      'SIGTERM stops a worker gracefully mid-run (exit 0) and a new worker completes the run',
      { timeout: TEST_TIMEOUT_MS },
      async () => {
        const h = await harness(4);
        harnesses.push(h);
        const first = spawn(h, ['pipeline', 'llm']);
        await first.ready;
        const handle = await startRun(h);
        const runId = handle.workflowId;

        await waitFor('a partly done run', async () => {
          const done = await resultCount(h, runId);
          assert.ok(done < RECEIPTS, `the run finished before SIGTERM (${done} results): make it longer`);
          if (done >= 3 && h.emulator.metrics().inFlight >= 1) {
            process.kill(first.pid, 'SIGTERM');
            return done;
          }
          return undefined;
        });
        // Bounded only so a hang fails here: the grace time plus slack for a loaded machine.
        const exit = await waitForExit(first, SHUTDOWN_GRACE_MS + 30_000);
        assert.ok(exit, `worker still running after SIGTERM:\n${first.output()}`);
        assert.deepEqual(exit, { code: 0, signal: null }, first.output());
        assert.match(first.output(), /worker stopped/);
        assert.ok((await resultCount(h, runId)) < RECEIPTS, 'the stopped worker left work to do');

        const second = spawn(h, ['pipeline', 'llm']);
        await second.ready;
        const report = await resultOf(handle, [first, second]);
        await assertEveryReceiptOnce(h, report);
      },
    );

    test(
      'kill -9 of the llm worker only: a new llm worker completes the run and reclaims the dead permits',
      { timeout: TEST_TIMEOUT_MS },
      async () => {
        const cap = 2;
        const h = await harness(cap);
        harnesses.push(h);
        const pipeline = spawn(h, ['pipeline']);
        const llm = spawn(h, ['llm']);
        await Promise.all([pipeline.ready, llm.ready]);
        const handle = await startRun(h);
        const runId = handle.workflowId;
        const { receipts } = createStores(h.cfg);
        const slots = () => receipts.queryPrefix('LIMITER#llm', 'SLOT#');
        const deadHolder = `${os.hostname()}:${llm.pid}:`;

        // Every permit of the cap held by the worker about to die.
        await waitFor('the llm worker holding the whole cap', async () => {
          const done = await resultCount(h, runId);
          assert.ok(done < RECEIPTS, `the run finished before the kill (${done} results): make it longer`);
          if (done >= 1 && h.emulator.metrics().inFlight >= cap) {
            process.kill(llm.pid, 'SIGKILL');
            return true;
          }
          return undefined;
        });
        await llm.exited;
        const now = Date.now();
        const dead = (await slots()).filter(
          (s) => String(s.holder).startsWith(deadHolder) && Number(s.leaseUntil) > now,
        );
        assert.equal(dead.length, cap, `permits leased by the dead worker: ${JSON.stringify(dead)}`);
        const requestsAtKill = h.emulator.metrics().requests;

        const llm2 = spawn(h, ['llm']);
        await llm2.ready;
        const report = await resultOf(handle, [pipeline, llm, llm2]);
        await assertEveryReceiptOnce(h, report);

        const m = h.emulator.metrics();
        assert.ok(m.requests > requestsAtKill, 'the new llm worker called the provider');
        // The dead worker's slots were taken over by the new worker (then released): none still names it.
        const left = (await slots()).filter((s) => String(s.holder).startsWith(deadHolder));
        assert.deepEqual(left, [], 'slots still held by the dead worker');
        assert.ok(m.inFlightMax <= cap, `provider saw ${m.inFlightMax} calls at once, cap ${cap}`);
        assert.ok(pipeline.alive(), 'the pipeline worker was not touched');
      },
    );
  },
);
