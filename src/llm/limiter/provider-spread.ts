// The provider's own latency spread (its jitter), as one process has seen it: the noise the latency
// signal allows for (`latencyAllowance`). Read only where no queue of ours can have spread the calls.
import { spreadOf, type WindowStats } from '../latency-signal';

/** Deviations kept of each kind (the newest). */
const KEPT = 32;
/**
 * Calls that give a spread: a cut forgets what was read at or above its level, which can leave only
 * slow start's window of 4 below it (without a spread, each window's own error stood in, spread by
 * the queue it showed: quick bench, 4 slots, windows at 6 read 1.45x as noise, p95 1.74x).
 */
const MIN_CALLS = 4;

interface Deviation {
  /** Calls in flight (the window's mean) when it ran. */
  level: number;
  value: number;
}

export class ProviderSpread {
  private readonly kept = { perToken: [] as Deviation[], ms: [] as Deviation[] };
  /** The lowest level a standing latency cut went to: calls there and above may have queued. */
  private queuedFrom = Number.POSITIVE_INFINITY;

  /**
   * A window at the unloaded latency (`unloaded`: its ratio within the tolerance). Run below any
   * level a latency cut has gone to (its mean in flight), its calls' deviations are the provider's
   * own. At or
   * above it, a queue of one or two calls can keep the window's median within the tolerance while
   * spreading its calls (4 slots at 5 in flight: 1.05-1.17x), and read as jitter that spread raised
   * the allowance until 6 in flight looked unloaded (llm-layer-learning: a queue of 1.3-1.7 held).
   */
  remember(stats: WindowStats, unloaded: boolean): void {
    const level = stats.meanInFlight;
    if (stats.samples < 2 || !unloaded || !this.unqueuedAt(level)) return;
    for (const kind of ['perToken', 'ms'] as const) {
      const list = this.kept[kind];
      list.push(...stats.deviations[kind].map((value) => ({ level, value })));
      list.splice(0, Math.max(0, list.length - KEPT));
    }
  }

  /**
   * Whether `level` calls in flight (a window's mean) are at least one below every level a standing
   * latency cut went to: a cut to L says the provider serves about L at once, maybe one less, and
   * windows a little under L (5.9 of 6 against 4 slots) let a queue of 2 into the base and spread.
   */
  unqueuedAt(level: number): boolean {
    return level <= this.queuedFrom - 1;
  }

  /** A latency cut to `level` stands (for now): what was read at or above it may have been a queue. */
  cutTo(level: number): void {
    if (level >= this.queuedFrom) return;
    this.queuedFrom = level;
    for (const kind of ['perToken', 'ms'] as const) {
      const list = this.kept[kind];
      const below = list.filter((d) => d.level <= level - 1);
      list.splice(0, list.length, ...below);
    }
  }

  /** A cut undone all the way was noise: the levels it doubted are unqueued again. */
  cutUndone(): void {
    this.queuedFrom = Number.POSITIVE_INFINITY;
  }

  /** The relative spread (sigma) per token and in ms; undefined until enough calls were seen. */
  spread(): { perToken?: number; ms?: number } {
    return {
      perToken: spreadOf(
        this.kept.perToken.map((d) => d.value),
        MIN_CALLS,
      ),
      ms: spreadOf(
        this.kept.ms.map((d) => d.value),
        MIN_CALLS,
      ),
    };
  }
}
