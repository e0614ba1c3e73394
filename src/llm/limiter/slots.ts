// Slots of the semaphore (one DynamoDB item each) and the waiter a local acquire sleeps in.
import type { Permit } from './options';

export function slotKey(slot: number): string {
  return `SLOT#${String(slot).padStart(3, '0')}`;
}

/**
 * The slot to take, or undefined when `allowed` are held: the lowest free one. Acquirers racing on
 * one snapshot all go for the same slot and one wins, so even while slots above a lowered limit
 * are still held, they cannot together take more than `allowed - held`.
 */
export function pickSlot(heldSlots: ReadonlySet<number>, allowed: number): number | undefined {
  if (heldSlots.size >= allowed) return undefined;
  for (let i = 0; i < allowed; i++) if (!heldSlots.has(i)) return i;
  return undefined;
}

/** One waiting acquire: sleeps until woken (by a release or its turn) or its poll timer fires. */
export class Waiter {
  /** Asleep between two looks at the semaphore: a released permit may be handed to it. */
  canTakeHandoff = false;
  handedOff: Permit | undefined;

  /** The permit handed over, once (undefined afterwards). */
  take(): Permit | undefined {
    const p = this.handedOff;
    this.handedOff = undefined;
    return p;
  }
  private resolve: (() => void) | undefined;
  /** A wake that came while not asleep (e.g. during a DynamoDB read) is kept for the next sleep. */
  private woken = false;

  wake(): void {
    if (this.resolve) this.resolve();
    else this.woken = true;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (this.woken || signal?.aborted) {
      this.woken = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        this.resolve = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.resolve = done;
      signal?.addEventListener('abort', done, { once: true });
    });
  }
}
