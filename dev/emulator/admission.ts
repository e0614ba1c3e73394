// Admission control of inference requests: a concurrency cap and a sliding 60 s requests-per-minute window.

export const RPM_WINDOW_MS = 60_000;

export type Refusal = { reason: 'concurrency' | 'rpm'; limit: number; remaining: number; resetMs: number };

export class AdmissionControl {
  /** Admission times inside the window, oldest first, as a ring read from `head`. */
  private admitted: number[] = [];
  private head = 0;

  constructor(private readonly now: () => number = Date.now) {}

  /**
   * Decides whether one more request may start given `inFlight` running now. On success the admission
   * is recorded in the window (only while an rpm limit is set); the caller then counts it in flight.
   */
  tryAdmit(inFlight: number, maxConcurrency: number, rpm: number): Refusal | undefined {
    if (inFlight + 1 > maxConcurrency)
      return { reason: 'concurrency', limit: maxConcurrency, remaining: 0, resetMs: 0 };
    if (rpm > 0) {
      const now = this.now();
      this.expire(now);
      const inWindow = this.admitted.length - this.head;
      if (inWindow + 1 > rpm) {
        const oldest = this.admitted[this.head] ?? now;
        return {
          reason: 'rpm',
          limit: rpm,
          remaining: 0,
          resetMs: Math.max(0, oldest + RPM_WINDOW_MS - now),
        };
      }
      this.admitted.push(now);
    }
    return undefined;
  }

  /** Admissions counted in the current window (for rate-limit headers). */
  windowCount(): number {
    this.expire(this.now());
    return this.admitted.length - this.head;
  }

  reset(): void {
    this.admitted = [];
    this.head = 0;
  }

  private expire(now: number): void {
    while (this.head < this.admitted.length && (this.admitted[this.head] as number) <= now - RPM_WINDOW_MS)
      this.head++;
    // Compact now and then so the array does not grow without bound.
    if (this.head > 1024 && this.head * 2 > this.admitted.length) {
      this.admitted = this.admitted.slice(this.head);
      this.head = 0;
    }
  }
}
