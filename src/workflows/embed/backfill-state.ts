// What one embedBackfill run works with: its input, the state it carries across continue-as-new,
// and the handles its steps share (activities, pending batches, how to continue as new).
import type { EmbedKind, EmbedSettings } from '../../domain/embedding';
import type { BatchOutcome } from '../../stores/embeddings';
import type { EmbedProgress } from './messages';
import type { embedProxies } from './options';
import type { DeltaWait, RepairActs } from './repair';

export interface BackfillCarry {
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
  /** Where the wait for the run's deltas is (a run continued as new while compacting resumes it). */
  deltaWait?: DeltaWait;
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
  /** Redrive this ended run: only the items it left undone (`npm run cli -- redrive`). */
  redriveOf?: string;
  /** State carried across continue-as-new (internal). */
  carry?: BackfillCarry;
}

export function newCarry(startedAt: number): BackfillCarry {
  return {
    startedAt,
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
}

export function progressOf(c: BackfillCarry): EmbedProgress {
  return {
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
  };
}

/** One run of a backfill: what its steps share. */
export interface Backfill {
  input: EmbedBackfillInput;
  runId: string;
  kinds: EmbedKind[];
  /** `waitForBatches`. */
  wait: boolean;
  c: BackfillCarry;
  s: EmbedSettings;
  /** Batches submitted and not yet settled. */
  pending: Set<string>;
  acts: ReturnType<typeof embedProxies>;
  repair: RepairActs;
  /** Batches this run submitted (it continues as new after BATCHES_PER_RUN). */
  startedThisRun: number;
  /** Wake-ups of this run while waiting (it continues as new after `waitsPerRun`). */
  waitsThisRun: number;
  /** Counts a settled batch once (a duplicate outcome, or another run's, is ignored). */
  settle: (o: BatchOutcome) => void;
  /** Continues as new with the carried state. */
  carryOn: () => Promise<never>;
}
