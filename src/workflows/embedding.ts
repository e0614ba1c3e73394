// Embedding pipeline (seed 003) as durable workflows: embedBackfill submits every unembedded line
// and word in Batch API batches; one pollEmbeddingBatch per batch (outlives its parent, may live the
// batch's 24 h) turns the results into an S3 delta; one compactEmbeddings, whose fixed workflow id is
// the lock, upserts the deltas into Chroma.
import {
  condition,
  continueAsNew,
  defineQuery,
  defineSignal,
  getExternalWorkflowHandle,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  sleep,
  startChild,
  upsertSearchAttributes,
  workflowInfo,
  ApplicationFailure,
  ParentClosePolicy,
  type ActivityOptions,
} from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import type { Activities } from '../activities';
import type { BatchCheck, EmbeddingReport, SubmitEmbeddingBatchResult } from '../activities/embedding';
import {
  EMBED_KINDS,
  batchKeyOf,
  isFinalBatchStatus,
  nextPollDelay,
  type EmbedKind,
  type EmbedSettings,
} from '../domain/embedding';
import type { BatchOutcome } from '../stores/embeddings';
import { repairBeforeSubmit, reviveClosedPollers, waitForRunDeltas } from './embedding-repair';
import {
  PipelineKey,
  RunIdKey,
  errorMessage,
  ioLocalActivityOptions,
  rootRun,
  markRunRunning,
  markRunCompleted,
  isNonRetryable,
  EMBED_FAILURES,
} from './shared';
import { RUN_BREAKER_PATCH, runStoppingFailure } from './run-breaker';
import { checkEmbedBackfillInput } from './root-inputs';

const io = proxyLocalActivities<Activities>(ioLocalActivityOptions);

/**
 * Batch API control calls and submission: regular activities on the pipeline queue, heartbeated so
 * a dead worker's attempt is retried after `heartbeatTimeoutMs`. A 429 waits for its Retry-After.
 */
function controlActivityOptions(s: EmbedSettings): ActivityOptions {
  return {
    startToCloseTimeout: '30 minutes',
    heartbeatTimeout: s.heartbeatTimeoutMs,
    retry: {
      initialInterval: '1 second',
      backoffCoefficient: 2,
      maximumInterval: '1 minute',
      maximumAttempts: 10,
      nonRetryableErrorTypes: [...EMBED_FAILURES],
    },
  };
}

/**
 * Heavy S3/DynamoDB/Chroma work (results -> delta -> statuses, compaction, snapshots): long,
 * heartbeated, retried for hours before a batch is given up.
 */
function dataActivityOptions(s: EmbedSettings): ActivityOptions {
  return {
    startToCloseTimeout: '2 hours',
    heartbeatTimeout: s.heartbeatTimeoutMs,
    retry: {
      initialInterval: '1 second',
      backoffCoefficient: 2,
      maximumInterval: '5 minutes',
      maximumAttempts: s.dataMaxAttempts ?? 50,
      nonRetryableErrorTypes: [...EMBED_FAILURES],
    },
  };
}

/** Batches one backfill run starts before it continues as new (its history stays small). */
const BATCHES_PER_RUN = 200;
/** A kind whose listed candidates cannot be claimed this many times in a row is left for later. */
const MAX_EMPTY_STREAK = 3;
const EMPTY_RETRY_MS = 1_000;
/** Deltas the compactor lists per round. */
const DELTAS_PER_ROUND = 100;
/** Longest pause between two looks at a run's pending deltas while the backfill waits for them. */
const DELTA_WAIT_MAX_MS = 5_000;

export interface EmbedProgress {
  /** Items submitted so far (resubmissions included). */
  total: number;
  /** Items embedded. */
  done: number;
  /** Items given up on. */
  failed: number;
  released: number;
  batches: number;
  batchesDone: number;
  round: number;
  phase: 'submitting' | 'waiting' | 'compacting' | 'done';
  merchantsDone: number;
  merchantsTotal: number;
}

export const progressQuery = defineQuery<EmbedProgress>('progress');
/** Sent by a poll workflow to its backfill when its batch is settled. */
export const batchDoneSignal = defineSignal<[BatchOutcome]>('embeddingBatchDone');
/** Sent (with start) to the compactor whenever deltas are waiting. */
export const compactRequestedSignal = defineSignal<[{ reason?: string }?]>('compactRequested');

interface BackfillCarry {
  /** Read once from the worker (local activity), then carried. */
  settings?: EmbedSettings;
  startedAt: number;
  round: number;
  kindIndex: number;
  seq: number;
  pending: string[];
  roundReleased: number;
  phase: EmbedProgress['phase'];
  stopped: boolean;
  /** Batches in a row that found candidates but could claim none. */
  emptyStreak: number;
  stats: {
    submitted: number;
    embedded: number;
    failed: number;
    released: number;
    batches: number;
    batchesDone: number;
  };
  failures: Array<{ itemId: string; reason: string }>;
  /** Restarts of closed poll workflows, per batch key. */
  pollerRestarts?: Record<string, number>;
}

export interface EmbedBackfillInput {
  /** Defaults to the workflow id. */
  runId?: string;
  /** What to embed. @default ['LINE', 'WORD'] */
  kinds?: EmbedKind[];
  /**
   * Wait for every batch, resubmit what expired or failed (up to `maxRounds`), and wait until the
   * deltas are in Chroma. Off for scheduled runs: they submit and leave the rest to the pollers.
   * @default true
   */
  waitForBatches?: boolean;
  /** Overrides of the worker's settings for this run. */
  settings?: Partial<EmbedSettings>;
  /** State carried across continue-as-new (internal). */
  carry?: BackfillCarry;
}

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

async function embedBackfillRun(input: EmbedBackfillInput = {}): Promise<EmbeddingReport> {
  const info = workflowInfo();
  const runId = input.runId ?? info.workflowId;
  const kinds = input.kinds?.length ? input.kinds : [...EMBED_KINDS];
  const wait = input.waitForBatches ?? true;
  const c: BackfillCarry = input.carry ?? {
    startedAt: Date.now(),
    round: 0,
    kindIndex: 0,
    seq: 0,
    pending: [],
    roundReleased: 0,
    phase: 'submitting',
    stopped: false,
    emptyStreak: 0,
    stats: { submitted: 0, embedded: 0, failed: 0, released: 0, batches: 0, batchesDone: 0 },
    failures: [],
  };
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
  setHandler(progressQuery, () => ({
    total: c.stats.submitted,
    done: c.stats.embedded,
    failed: c.stats.failed,
    released: c.stats.released,
    batches: c.stats.batches,
    batchesDone: c.stats.batchesDone,
    round: c.round,
    phase: c.phase,
    merchantsDone: 0,
    merchantsTotal: 0,
  }));
  c.settings ??= { ...(await io.embeddingSettings()), ...input.settings };
  const s = c.settings;
  if (!input.carry) {
    markRunRunning(runId, 'embed');
    await io.startRun({
      runId,
      pipeline: 'embed',
      params: { kinds, waitForBatches: wait, settings: input.settings ?? {} },
      startedAt: c.startedAt,
    });
  }
  const control = proxyActivities<Activities>(controlActivityOptions(s));
  const data = proxyActivities<Activities>(dataActivityOptions(s));
  const repair = {
    redriveFailedEmbeddingDeltas: control.redriveFailedEmbeddingDeltas,
    requestEmbeddingCompaction: control.requestEmbeddingCompaction,
    countPendingEmbeddingDeltas: io.countPendingEmbeddingDeltas,
    closedEmbeddingPollers: control.closedEmbeddingPollers,
    releaseEmbeddingBatch: data.releaseEmbeddingBatch,
    sweepStaleEmbeddingItems: control.sweepStaleEmbeddingItems,
  };
  if (!input.carry && patched('embed-repair-before-submit'))
    c.failures.push(...(await repairBeforeSubmit(repair, s, runId)));
  let startedThisRun = 0;
  const carryOn = () =>
    continueAsNew<typeof embedBackfill>({ ...input, runId, carry: { ...c, pending: [...pending] } });

  for (;;) {
    if (c.phase === 'submitting') {
      while (c.kindIndex < kinds.length && !c.stopped) {
        const kind = kinds[c.kindIndex]!;
        const seq = c.seq++;
        let r: SubmitEmbeddingBatchResult;
        try {
          r = await control.submitEmbeddingBatch({
            runId,
            kind,
            seq,
            model: s.model,
            maxRequests: s.maxRequestsPerBatch,
            maxBytes: s.maxBytesPerBatch,
          });
        } catch (err) {
          // The provider refused the submission for good (or retries ran out): give the claimed items
          // back, record why, and submit nothing more in this run.
          const batchKey = batchKeyOf(runId, kind, seq);
          const reason = errorMessage(err);
          c.failures.push({ itemId: batchKey, reason });
          c.stopped = true;
          try {
            const o = await data.releaseEmbeddingBatch({
              batchKey,
              reason: `not submitted: ${reason}`,
              finalStatus: 'not_submitted',
              maxAttempts: s.maxAttempts,
            });
            c.stats.failed += o.failed;
            c.stats.released += o.released;
          } catch {
            // No batch record was written: no item was claimed.
          }
          // Refused for our credentials: nothing this run does can succeed, so it fails with why.
          const stopping = runStoppingFailure(err);
          if (stopping && patched(RUN_BREAKER_PATCH))
            throw ApplicationFailure.nonRetryable(stopping.message, stopping.type);
          break;
        }
        if (r.state === 'SUBMITTED') {
          c.emptyStreak = 0;
          c.stats.batches++;
          c.stats.submitted += r.itemCount;
          pending.add(r.batchKey);
          await startPoller(r.batchKey, runId, s);
          startedThisRun++;
        } else if (r.candidates === 0 || ++c.emptyStreak > MAX_EMPTY_STREAK) {
          // Nothing of this kind is left to embed (or what is listed cannot be claimed: held by
          // another run while the index catches up); the next round or run looks again.
          c.kindIndex++;
          c.emptyStreak = 0;
        } else {
          // Listed but not claimable right now (another run holds them, or they could not be embedded).
          await sleep(EMPTY_RETRY_MS);
        }
        if (startedThisRun >= BATCHES_PER_RUN || workflowInfo().continueAsNewSuggested) await carryOn();
      }
      c.phase = wait ? 'waiting' : 'done';
    }
    if (c.phase === 'waiting') {
      while (pending.size > 0) {
        const settled = await condition(
          () => pending.size === 0 || workflowInfo().continueAsNewSuggested,
          s.reconcileMs,
        );
        if (!settled) {
          // A poller's signal may have been lost (e.g. sent while this run continued as new).
          for (const o of await io.embeddingBatchOutcomes({ batchKeys: [...pending] })) settle(o);
          if (pending.size > 0 && patched('embed-restart-closed-pollers')) {
            await reviveClosedPollers(repair, s, pending, (c.pollerRestarts ??= {}), {
              restart: (batchKey) => startPoller(batchKey, runId, s),
              settle,
              fail: (itemId, reason) => c.failures.push({ itemId, reason }),
            });
          }
        } else if (pending.size > 0) {
          await carryOn();
        }
      }
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
    // The run ends when its vectors are in Chroma (a delta that failed meanwhile is redriven).
    if (patched('embed-redrive-failed-deltas')) await waitForRunDeltas(repair, s, runId);
    else {
      let delay = Math.min(s.pollInitialMs, DELTA_WAIT_MAX_MS);
      for (let i = 0; (await io.countPendingEmbeddingDeltas({ runId })) > 0; i++) {
        if (i % 10 === 0)
          await control.requestEmbeddingCompaction({ compactorId: s.compactorId, reason: runId });
        await sleep(delay);
        delay = nextPollDelay(delay, s.pollBackoff, DELTA_WAIT_MAX_MS);
      }
    }
    c.phase = 'done';
  }
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

/** Starts the batch's poll workflow; it is abandoned, not cancelled, when the backfill ends. */
async function startPoller(batchKey: string, runId: string, settings: EmbedSettings): Promise<void> {
  try {
    await startChild(pollEmbeddingBatch, {
      workflowId: `embed-poll/${batchKey}`,
      args: [{ batchKey, settings, parentWorkflowId: workflowInfo().workflowId }],
      parentClosePolicy: ParentClosePolicy.ABANDON,
      typedSearchAttributes: [
        { key: RunIdKey, value: runId },
        { key: PipelineKey, value: 'embed' },
      ],
    });
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
  }
}

export interface PollEmbeddingBatchInput {
  batchKey: string;
  settings: EmbedSettings;
  /** Workflow to signal with the outcome (the backfill); it may have ended or continued as new. */
  parentWorkflowId?: string;
  carry?: {
    polls: number;
    delayMs: number;
    runs: number;
    startedAt: number;
    failingSince?: number;
    /** Since when processing the batch's output fails (its output is re-read, not resubmitted). */
    processFailingSince?: number;
  };
}

export interface PollEmbeddingBatchResult extends BatchOutcome {
  polls: number;
  /** Runs of this workflow (1 + continue-as-new count). */
  runs: number;
  startedAt: number;
  finishedAt: number;
}

export interface PollProgress {
  batchKey: string;
  status: string;
  polls: number;
  runs: number;
  requestCounts: BatchCheck['requestCounts'];
}

export const pollProgressQuery = defineQuery<PollProgress>('batchProgress');

/**
 * Polls one batch with durable timers (backoff from `pollInitialMs` to `pollMaxMs`), continuing as
 * new every `pollsPerRun` polls, until the batch is final; then settles it and asks for compaction.
 */
export async function pollEmbeddingBatch(input: PollEmbeddingBatchInput): Promise<PollEmbeddingBatchResult> {
  const s = input.settings;
  const c = input.carry ?? { polls: 0, delayMs: s.pollInitialMs, runs: 1, startedAt: Date.now() };
  let last: BatchCheck = {
    status: 'unknown',
    requestCounts: { total: 0, completed: 0, failed: 0 },
    errors: [],
  };
  setHandler(pollProgressQuery, () => ({
    batchKey: input.batchKey,
    status: last.status,
    polls: c.polls,
    runs: c.runs,
    requestCounts: last.requestCounts,
  }));
  const control = proxyActivities<Activities>(controlActivityOptions(s));
  const data = proxyActivities<Activities>(dataActivityOptions(s));
  const release = (reason: string, finalStatus: string) =>
    data.releaseEmbeddingBatch({ batchKey: input.batchKey, reason, finalStatus, maxAttempts: s.maxAttempts });

  let outcome: BatchOutcome | undefined;
  let pollsThisRun = 0;
  while (!outcome) {
    let check: BatchCheck | undefined;
    try {
      check = await control.checkEmbeddingBatch({ batchKey: input.batchKey });
      c.failingSince = undefined;
      last = check;
    } catch (err) {
      // The provider does not know the batch (or refuses us): its items go back to be resubmitted.
      if (isNonRetryable(err))
        outcome = await release(`batch cannot be checked: ${errorMessage(err)}`, 'unknown');
      c.failingSince ??= Date.now();
      if (!outcome && Date.now() - c.failingSince > s.pollGiveUpMs)
        outcome = await release(
          `batch unreachable since ${new Date(c.failingSince).toISOString()}`,
          'unknown',
        );
    }
    c.polls++;
    pollsThisRun++;
    if (outcome) break;
    if (check && isFinalBatchStatus(check.status)) {
      if (check.status === 'failed') {
        outcome = await release(`batch failed: ${check.errors.join('; ') || 'no reason given'}`, 'failed');
      } else {
        try {
          outcome = await data.processEmbeddingBatch({
            batchKey: input.batchKey,
            maxAttempts: s.maxAttempts,
          });
        } catch (err) {
          // The results are paid for and stay in the provider's output file: read them again later
          // rather than resubmitting the items (patched), until pollGiveUpMs or a non-retryable error.
          c.processFailingSince ??= Date.now();
          const rereadLater =
            patched('embed-reread-batch-output') &&
            !isNonRetryable(err) &&
            Date.now() - c.processFailingSince <= s.pollGiveUpMs;
          if (!rereadLater)
            outcome = await release(`results could not be processed: ${errorMessage(err)}`, check.status);
        }
      }
      if (outcome) break;
    }
    await sleep(c.delayMs);
    c.delayMs = nextPollDelay(c.delayMs, s.pollBackoff, s.pollMaxMs);
    if (pollsThisRun >= s.pollsPerRun || workflowInfo().continueAsNewSuggested) {
      await continueAsNew<typeof pollEmbeddingBatch>({ ...input, carry: { ...c, runs: c.runs + 1 } });
    }
  }
  if (outcome.embedded > 0) {
    await control.requestEmbeddingCompaction({ compactorId: s.compactorId, reason: input.batchKey });
  }
  if (input.parentWorkflowId) {
    try {
      await getExternalWorkflowHandle(input.parentWorkflowId).signal(batchDoneSignal, outcome);
    } catch {
      // The backfill has ended (scheduled runs do not wait): nothing is waiting for this outcome.
    }
  }
  return { ...outcome, polls: c.polls, runs: c.runs, startedAt: c.startedAt, finishedAt: Date.now() };
}

export interface CompactEmbeddingsInput {
  settings?: Partial<EmbedSettings>;
  carry?: CompactionSummary & { settings: EmbedSettings };
}

export interface CompactionSummary {
  rounds: number;
  deltasApplied: number;
  records: number;
  deltasFailed: number;
  snapshots: number;
  runs: number;
  startedAt: number;
}

export const compactionProgressQuery = defineQuery<CompactionSummary>('compactionProgress');

/**
 * The one compactor: started or signalled only through signal-with-start under its fixed id, so two
 * never run at once. Applies pending deltas oldest first until none is left and no request came in
 * for `compactIdleMs`; continues as new every `compactRoundsPerRun` rounds.
 */
export async function compactEmbeddings(input: CompactEmbeddingsInput = {}): Promise<CompactionSummary> {
  const c: CompactionSummary & { settings?: EmbedSettings } = input.carry ?? {
    rounds: 0,
    deltasApplied: 0,
    records: 0,
    deltasFailed: 0,
    snapshots: 0,
    runs: 1,
    startedAt: Date.now(),
  };
  let requested = true;
  setHandler(compactRequestedSignal, () => {
    requested = true;
  });
  const summary = (): CompactionSummary => ({
    rounds: c.rounds,
    deltasApplied: c.deltasApplied,
    records: c.records,
    deltasFailed: c.deltasFailed,
    snapshots: c.snapshots,
    runs: c.runs,
    startedAt: c.startedAt,
  });
  setHandler(compactionProgressQuery, summary);
  c.settings ??= { ...(await io.embeddingSettings()), ...input.settings };
  const s = c.settings;
  if (!input.carry) upsertSearchAttributes([{ key: PipelineKey, value: 'embed' }]);
  const data = proxyActivities<Activities>(dataActivityOptions(s));

  for (let roundsThisRun = 0; ;) {
    requested = false;
    const deltas = await io.listPendingEmbeddingDeltas({ limit: DELTAS_PER_ROUND });
    let applied = 0;
    for (const d of deltas) {
      try {
        const r = await data.applyEmbeddingDelta({
          batchKey: d.batchKey,
          chunkSize: s.compactChunkSize,
          deleteApplied: s.deleteAppliedDeltas,
          compactorRunId: workflowInfo().runId,
        });
        if (r.applied) {
          applied++;
          c.deltasApplied++;
          c.records += r.records;
        }
      } catch (err) {
        // A delta that cannot be read is set aside with its reason, so it cannot block the others.
        await io.markEmbeddingDeltaFailed({ batchKey: d.batchKey, reason: errorMessage(err) });
        c.deltasFailed++;
      }
    }
    if (applied > 0 && s.snapshot) {
      await data.exportEmbeddingSnapshot({ stamp: new Date(Date.now()).toISOString().replace(/[:.]/g, '-') });
      c.snapshots++;
    }
    c.rounds++;
    roundsThisRun++;
    if (deltas.length === 0 && !(await condition(() => requested, s.compactIdleMs))) break;
    if (roundsThisRun >= s.compactRoundsPerRun || workflowInfo().continueAsNewSuggested) {
      await continueAsNew<typeof compactEmbeddings>({
        ...input,
        carry: { ...c, settings: s, runs: c.runs + 1 },
      });
    }
  }
  return summary();
}

/** Action of the compaction schedule: a schedule cannot signal-with-start, this workflow does. */
export async function triggerEmbeddingCompaction(input: { settings?: Partial<EmbedSettings> } = {}) {
  const s = { ...(await io.embeddingSettings()), ...input.settings };
  const control = proxyActivities<Activities>(controlActivityOptions(s));
  return control.requestEmbeddingCompaction({ compactorId: s.compactorId, reason: 'schedule' });
}
