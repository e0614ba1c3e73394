// compactEmbeddings: the one compactor (its fixed workflow id is the lock) upserts pending deltas
// into Chroma; triggerEmbeddingCompaction is the schedule's way to signal-with-start it.
import {
  condition,
  continueAsNew,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { EmbedSettings } from '../../domain/embedding';
import { PipelineKey, errorMessage } from '../shared';
import { compactRequestedSignal, compactionProgressQuery, type CompactionSummary } from './messages';
import { embedProxies, io } from './options';

export type { CompactionSummary } from './messages';

/** Deltas the compactor lists per round. */
const DELTAS_PER_ROUND = 100;

export interface CompactEmbeddingsInput {
  settings?: Partial<EmbedSettings>;
  carry?: CompactionSummary & { settings: EmbedSettings };
}

type CompactorState = CompactionSummary & { settings?: EmbedSettings };

/** One round: applies the listed pending deltas oldest first (a delta that fails is set aside). */
async function compactionRound(c: CompactorState, s: EmbedSettings): Promise<number> {
  const { data } = embedProxies(s);
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
  return deltas.length;
}

/**
 * The one compactor: started or signalled only through signal-with-start under its fixed id, so two
 * never run at once. Applies pending deltas oldest first until none is left and no request came in
 * for `compactIdleMs`; continues as new every `compactRoundsPerRun` rounds.
 */
export async function compactEmbeddings(input: CompactEmbeddingsInput = {}): Promise<CompactionSummary> {
  const c: CompactorState = input.carry ?? {
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
  const summary = (): CompactionSummary => {
    const { rounds, deltasApplied, records, deltasFailed, snapshots, runs, startedAt } = c;
    return { rounds, deltasApplied, records, deltasFailed, snapshots, runs, startedAt };
  };
  setHandler(compactionProgressQuery, summary);
  c.settings ??= { ...(await io.embeddingSettings()), ...input.settings };
  const s = c.settings;
  if (!input.carry) upsertSearchAttributes([{ key: PipelineKey, value: 'embed' }]);

  for (let roundsThisRun = 0; ;) {
    requested = false;
    const listed = await compactionRound(c, s);
    roundsThisRun++;
    if (listed === 0 && !(await condition(() => requested, s.compactIdleMs))) break;
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
  return embedProxies(s).control.requestEmbeddingCompaction({
    compactorId: s.compactorId,
    reason: 'schedule',
  });
}
