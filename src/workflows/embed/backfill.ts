// embedBackfill: one backfill run submits every unembedded line and word in Batch API batches (one
// poll workflow each), waits for them (resubmitting what expired or failed, up to `maxRounds`) and
// for their deltas to reach Chroma, then reports. Steps: backfill-submit.ts, backfill-wait.ts.
import { continueAsNew, patched, setHandler, workflowInfo } from '@temporalio/workflow';
import type { EmbeddingReport } from '../../activities/embed';
import { EMBED_KINDS } from '../../domain/embedding';
import type { BatchOutcome } from '../../stores/embeddings';
import { checkEmbedBackfillInput } from '../root-inputs';
import { markRunCompleted, markRunRunning, rootRun } from '../shared';
import { newCarry, progressOf, type Backfill, type EmbedBackfillInput } from './backfill-state';
import { submitAll } from './backfill-submit';
import { waitForBatches, waitForDeltas } from './backfill-wait';
import { batchDoneSignal, progressQuery } from './messages';
import { embedProxies, io } from './options';
import { repairBeforeSubmit } from './repair';

export type { BackfillCarry, EmbedBackfillInput } from './backfill-state';

/** One backfill run: submit everything not embedded, in as many batches as it takes (no cap). */
export async function embedBackfill(input: EmbedBackfillInput = {}): Promise<EmbeddingReport> {
  const runId = input?.runId ?? workflowInfo().workflowId;
  return rootRun({
    runId,
    workflowType: 'embedBackfill',
    failRun: io.failRun,
    checkInput: () => checkEmbedBackfillInput(input),
    body: () => embedBackfillRun(input),
  });
}

/** Sets up a run: handlers, settings, the run record (first run only), activities. */
async function openBackfill(input: EmbedBackfillInput): Promise<Backfill> {
  const runId = input.runId ?? workflowInfo().workflowId;
  const kinds = input.kinds?.length ? input.kinds : [...EMBED_KINDS];
  const wait = input.waitForBatches ?? true;
  const c = input.carry ?? newCarry(Date.now());
  const pending = new Set(c.pending);
  const settle = (o: BatchOutcome) => {
    if (!pending.delete(o.batchKey)) return; // a duplicate, or not ours
    c.stats.batchesDone++;
    c.stats.embedded += o.embedded;
    c.stats.failed += o.failed;
    c.stats.released += o.released;
    c.roundReleased += o.released;
  };
  setHandler(batchDoneSignal, settle);
  setHandler(progressQuery, () => progressOf(c));
  c.settings ??= { ...(await io.embeddingSettings()), ...input.settings };
  const s = c.settings;
  if (!input.carry) {
    markRunRunning(runId, 'embed');
    const params = {
      kinds,
      waitForBatches: wait,
      settings: input.settings ?? {},
      ...(input.redriveOf ? { redriveOf: input.redriveOf } : {}),
    };
    await io.startRun({ runId, pipeline: 'embed', params, startedAt: c.startedAt });
  }
  const acts = embedProxies(s);
  // A redrive plans its items once (only runs with `redriveOf`, which no earlier code started).
  if (!input.carry && input.redriveOf)
    await acts.data.planEmbeddingRedrive({ runId, redriveOf: input.redriveOf });
  const repair = {
    redriveFailedEmbeddingDeltas: acts.control.redriveFailedEmbeddingDeltas,
    requestEmbeddingCompaction: acts.control.requestEmbeddingCompaction,
    countPendingEmbeddingDeltas: io.countPendingEmbeddingDeltas,
    closedEmbeddingPollers: acts.control.closedEmbeddingPollers,
    releaseEmbeddingBatch: acts.data.releaseEmbeddingBatch,
    sweepStaleEmbeddingItems: acts.control.sweepStaleEmbeddingItems,
  };
  const carryOn = () =>
    continueAsNew<typeof embedBackfill>({ ...input, runId, carry: { ...c, pending: [...pending] } });
  return {
    input,
    runId,
    kinds,
    wait,
    c,
    s,
    pending,
    acts,
    repair,
    startedThisRun: 0,
    waitsThisRun: 0,
    settle,
    carryOn,
  };
}

/** Submitting and waiting, round after round, then waiting for the deltas. */
async function runPhases(b: Backfill): Promise<void> {
  const { c, s } = b;
  for (;;) {
    if (c.phase === 'submitting') {
      await submitAll(b);
      c.phase = b.wait ? 'waiting' : 'done';
    }
    if (c.phase === 'waiting') {
      await waitForBatches(b);
      if (c.roundReleased > 0 && !c.stopped && c.round + 1 < s.maxRounds) {
        // Resubmit what expired or failed in this round.
        c.round++;
        c.roundReleased = 0;
        c.kindIndex = 0;
        c.phase = 'submitting';
        continue;
      }
      c.phase = 'compacting';
    }
    break;
  }
  if (c.phase === 'compacting') {
    // The run ends when its vectors are in Chroma.
    await waitForDeltas(b);
    c.phase = 'done';
  }
}

async function embedBackfillRun(input: EmbedBackfillInput = {}): Promise<EmbeddingReport> {
  const b = await openBackfill(input);
  const { c, s, runId } = b;
  if (!input.carry && patched('embed-repair-before-submit'))
    c.failures.push(...(await repairBeforeSubmit(b.repair, s, runId)));
  await runPhases(b);
  const report = await io.buildEmbeddingReport({
    runId,
    status: 'COMPLETED',
    rounds: c.round + 1,
    makespanMs: Date.now() - c.startedAt,
    failures: c.failures,
  });
  markRunCompleted();
  return report;
}
