// How late this process's event loop runs: a latency measured by a CPU-starved client includes its
// own delay, which the latency signal must not blame on the provider.
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';

export class ClientLag {
  private histogram?: IntervalHistogram;
  private resolutionMs = 20;

  /** Starts sampling the event loop every `resolutionMs` (nothing is measured until then). */
  start(resolutionMs = 20): this {
    if (!this.histogram) {
      this.resolutionMs = resolutionMs;
      this.histogram = monitorEventLoopDelay({ resolution: resolutionMs });
      this.histogram.enable();
    }
    return this;
  }

  /** The 99th-percentile lag (ms) since the last take, beyond the sampling interval itself. */
  takeMaxMs(): number {
    const lagMs = this.peekMaxMs();
    this.histogram?.reset();
    return lagMs;
  }

  /** The same, without starting a new period. */
  peekMaxMs(): number {
    const h = this.histogram;
    if (!h || h.count === 0) return 0;
    // The histogram records the time between two samples: the interval itself is not lag.
    return Math.max(0, h.percentile(99) / 1e6 - this.resolutionMs);
  }

  stop(): void {
    this.histogram?.disable();
    this.histogram = undefined;
  }
}
