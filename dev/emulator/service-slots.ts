// The queueing provider model's machine: `parallel` service slots fed by one FIFO queue, sharing the
// compute between the slots that work at the same time (processor sharing).
import { slotSpeed } from './service-time';
import { type EmulatorSettings } from './settings';

export type SlotSettings = Pick<EmulatorSettings, 'parallel' | 'maxQueue' | 'parallelSpeedup'>;

/** Told when a request starts or stops waiting, and when it takes or frees a slot (the metrics). */
export interface SlotObserver {
  enqueue(): void;
  dequeue(): void;
  enter(): void;
  leave(): void;
}

export interface ServiceSlot {
  /**
   * Spends `soloWorkMs` of compute (as measured alone), slowed while other slots compute too. Resolves
   * when done, or at once when `signal` aborts.
   */
  compute(soloWorkMs: number, signal: AbortSignal): Promise<void>;
  /** Frees the slot for the oldest waiter; calling it again does nothing. */
  release(): void;
}

export type SlotOutcome =
  | { kind: 'served'; slot: ServiceSlot }
  | { kind: 'queue-full' }
  /** The signal aborted while waiting (the client went away): the queue place is free again. */
  | { kind: 'aborted' };

interface Waiter {
  grant(): void;
  cancel(): void;
}

interface Computation {
  /** Solo-speed milliseconds of work still to do. */
  remainingMs: number;
  finish(): void;
}

/**
 * Node timers fire on whole milliseconds of their own clock, so one may run up to 1 ms before the
 * performance.now() instant it aimed at; work due within this much is finished rather than re-armed.
 */
const TIMER_SLACK_MS = 1;

export class ServiceSlots {
  /** Waiters in arrival order (a Set iterates in insertion order and deletes in O(1)). */
  private readonly waiting = new Set<Waiter>();
  private occupied = 0;
  private readonly computing = new Set<Computation>();
  private lastAdvance: number;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly settings: () => SlotSettings,
    private readonly observer: SlotObserver,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.lastAdvance = now();
  }

  get queued(): number {
    return this.waiting.size;
  }

  get busy(): number {
    return this.occupied;
  }

  /**
   * A slot at once if one is free and nobody waits; otherwise a place at the back of the queue, or
   * 'queue-full' when `maxQueue` requests already wait. Waiting ends with 'aborted' if `signal` aborts.
   */
  take(signal: AbortSignal): Promise<SlotOutcome> {
    if (signal.aborted) return Promise.resolve({ kind: 'aborted' });
    const { parallel, maxQueue } = this.settings();
    if (this.waiting.size === 0 && this.occupied < parallel)
      return Promise.resolve({ kind: 'served', slot: this.grant() });
    if (maxQueue > 0 && this.waiting.size >= maxQueue) return Promise.resolve({ kind: 'queue-full' });
    return new Promise((resolve) => {
      const onAbort = () => {
        if (!this.waiting.delete(waiter)) return;
        this.observer.dequeue();
        resolve({ kind: 'aborted' });
      };
      const waiter: Waiter = {
        grant: () => {
          signal.removeEventListener('abort', onAbort);
          resolve({ kind: 'served', slot: this.grant() });
        },
        cancel: () => {
          signal.removeEventListener('abort', onAbort);
          resolve({ kind: 'aborted' });
        },
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.waiting.add(waiter);
      this.observer.enqueue();
    });
  }

  /** Hands free slots to the oldest waiters; called on every release and after `parallel` changed. */
  pump(): void {
    const { parallel } = this.settings();
    while (this.occupied < parallel) {
      const next = this.waiting.values().next();
      if (next.done) return;
      this.waiting.delete(next.value);
      this.observer.dequeue();
      next.value.grant();
    }
  }

  /** Ends every wait and computation (the server is closing); waiters see 'aborted'. */
  close(): void {
    for (const waiter of this.waiting) {
      this.observer.dequeue();
      waiter.cancel();
    }
    this.waiting.clear();
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    for (const job of this.computing) job.finish();
    this.computing.clear();
  }

  private grant(): ServiceSlot {
    this.occupied++;
    this.observer.enter();
    let released = false;
    return {
      compute: (soloWorkMs, signal) => this.compute(soloWorkMs, signal),
      release: () => {
        if (released) return;
        released = true;
        this.occupied--;
        this.observer.leave();
        this.pump();
      },
    };
  }

  private compute(soloWorkMs: number, signal: AbortSignal): Promise<void> {
    if (soloWorkMs <= 0 || signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      this.advance();
      const onAbort = () => {
        this.advance();
        if (this.computing.delete(job)) this.reschedule();
        resolve();
      };
      const job: Computation = {
        remainingMs: soloWorkMs,
        finish: () => {
          signal.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.computing.add(job);
      this.reschedule();
    });
  }

  /** Charges the time since the last change to every computation, at the speed that held meanwhile. */
  private advance(): void {
    const now = this.now();
    const progress = (now - this.lastAdvance) * slotSpeed(this.computing.size, this.settings());
    this.lastAdvance = now;
    for (const job of this.computing) job.remainingMs -= progress;
  }

  /** Arms one timer for the computation that will finish first at the current sharing. */
  private reschedule(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.computing.size === 0) return;
    let least = Number.POSITIVE_INFINITY;
    for (const job of this.computing) least = Math.min(least, job.remainingMs);
    const speed = slotSpeed(this.computing.size, this.settings());
    this.timer = setTimeout(() => this.finishDue(), Math.max(0, least / speed));
  }

  private finishDue(): void {
    this.timer = undefined;
    this.advance();
    const slack = TIMER_SLACK_MS * slotSpeed(this.computing.size, this.settings());
    // The one that finished earliest first (a late timer can find several done), equal work in start order.
    const due = [...this.computing].filter((job) => job.remainingMs <= slack);
    due.sort((a, b) => a.remainingMs - b.remainingMs);
    for (const job of due) {
      this.computing.delete(job);
      job.finish();
    }
    this.reschedule();
  }
}
