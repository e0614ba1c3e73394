// Counters and the in-flight / queued time series behind GET /_emulator/metrics.

/** Counters kept per endpoint (route pattern such as `/v1/chat/completions` or `/v1/batches/{id}`). */
export interface EndpointMetrics {
  requests: number;
  rateLimited: number;
  /** Injected 5xx faults (`errorRate`). */
  errors: number;
  malformed: number;
  timeouts: number;
  /** Answered 4xx because the request itself was wrong (bad JSON, missing field, unknown id). */
  badRequests: number;
  /** Queueing model: answered 503 because `maxQueue` requests already waited. */
  queueFull: number;
  /** Answered 503 because the model was (re)loading (`loadingForMs`). */
  modelLoading: number;
  /** Answered the injected `faultStatus` (`faultRate`). */
  statusFaults: number;
  /** Chat answers cut at the request's output-token limit (finish reason "length"). */
  truncated: number;
  promptTokens: number;
  completionTokens: number;
}

/**
 * In-flight and queued counts at the end of a time bucket (`t` = bucket start, ms since reset), and
 * their peaks within it.
 */
export interface SeriesPoint {
  t: number;
  inFlight: number;
  /** Peak of `inFlight` within the bucket. */
  max: number;
  /** Requests waiting for a slot (queueing model; always 0 in the refusing model). */
  queued: number;
  /** Peak of `queued` within the bucket. */
  queuedMax: number;
}

export interface EmulatorMetrics extends EndpointMetrics {
  /**
   * Inference requests being served: admitted and not yet answered in the refusing model, holding a
   * slot in the queueing model (refused ones never count).
   */
  inFlight: number;
  /** Peak of `inFlight` since the last reset. */
  inFlightMax: number;
  /** Queueing model: requests waiting for a slot. */
  queued: number;
  /** Peak of `queued` since the last reset. */
  queuedMax: number;
  /** Milliseconds since the last reset (or start). */
  uptimeMs: number;
  byEndpoint: Record<string, EndpointMetrics>;
  /** Width of a series bucket; starts at 1 ms and doubles whenever the series would exceed its bound. */
  seriesBucketMs: number;
  /** One point per bucket in which `inFlight` or `queued` changed, oldest first: plot it as a step function. */
  series: SeriesPoint[];
}

export type CounterName = Exclude<keyof EndpointMetrics, 'promptTokens' | 'completionTokens'>;

/** Most points the series keeps; past this the bucket width doubles so the whole run stays plotted. */
export const SERIES_MAX_POINTS = 20_000;

function zeroCounters(): EndpointMetrics {
  return {
    requests: 0,
    rateLimited: 0,
    errors: 0,
    malformed: 0,
    timeouts: 0,
    badRequests: 0,
    queueFull: 0,
    modelLoading: 0,
    statusFaults: 0,
    truncated: 0,
    promptTokens: 0,
    completionTokens: 0,
  };
}

export class MetricsRecorder {
  private totals = zeroCounters();
  private byEndpoint = new Map<string, EndpointMetrics>();
  private inFlightNow = 0;
  private inFlightPeak = 0;
  private queuedNow = 0;
  private queuedPeak = 0;
  private resetAt: number;
  private bucketMs = 1;
  private ts: number[] = [];
  private values: number[] = [];
  private peaks: number[] = [];
  private queuedValues: number[] = [];
  private queuedPeaks: number[] = [];

  constructor(
    private readonly now: () => number = () => performance.now(),
    private readonly maxPoints = SERIES_MAX_POINTS,
  ) {
    this.resetAt = now();
    this.sample();
  }

  get inFlight(): number {
    return this.inFlightNow;
  }

  private endpoint(name: string): EndpointMetrics {
    let m = this.byEndpoint.get(name);
    if (!m) {
      m = zeroCounters();
      this.byEndpoint.set(name, m);
    }
    return m;
  }

  count(endpoint: string, counter: CounterName): void {
    this.totals[counter]++;
    this.endpoint(endpoint)[counter]++;
  }

  addTokens(endpoint: string, promptTokens: number, completionTokens: number): void {
    this.totals.promptTokens += promptTokens;
    this.totals.completionTokens += completionTokens;
    const m = this.endpoint(endpoint);
    m.promptTokens += promptTokens;
    m.completionTokens += completionTokens;
  }

  enter(): void {
    this.inFlightNow++;
    if (this.inFlightNow > this.inFlightPeak) this.inFlightPeak = this.inFlightNow;
    this.sample();
  }

  leave(): void {
    this.inFlightNow--;
    this.sample();
  }

  /** A request starts waiting for a slot (queueing model). */
  enqueue(): void {
    this.queuedNow++;
    if (this.queuedNow > this.queuedPeak) this.queuedPeak = this.queuedNow;
    this.sample();
  }

  /** A request stops waiting: it got a slot, or its client went away. */
  dequeue(): void {
    this.queuedNow--;
    this.sample();
  }

  /** Zeroes every counter; the peaks restart from what is in flight and queued now, the series from now. */
  reset(): void {
    this.totals = zeroCounters();
    this.byEndpoint.clear();
    this.inFlightPeak = this.inFlightNow;
    this.queuedPeak = this.queuedNow;
    this.resetAt = this.now();
    this.bucketMs = 1;
    this.ts = [];
    this.values = [];
    this.peaks = [];
    this.queuedValues = [];
    this.queuedPeaks = [];
    this.sample();
  }

  private sample(): void {
    const t = this.now() - this.resetAt;
    const bucket = Math.floor(t / this.bucketMs) * this.bucketMs;
    const last = this.ts.length - 1;
    if (last >= 0 && this.ts[last] === bucket) {
      this.values[last] = this.inFlightNow;
      if (this.inFlightNow > (this.peaks[last] as number)) this.peaks[last] = this.inFlightNow;
      this.queuedValues[last] = this.queuedNow;
      if (this.queuedNow > (this.queuedPeaks[last] as number)) this.queuedPeaks[last] = this.queuedNow;
      return;
    }
    // The values carried into this bucket held until now, so they belong to the bucket's peaks too.
    const carried = last >= 0 ? (this.values[last] as number) : this.inFlightNow;
    const carriedQueued = last >= 0 ? (this.queuedValues[last] as number) : this.queuedNow;
    this.ts.push(bucket);
    this.values.push(this.inFlightNow);
    this.peaks.push(Math.max(carried, this.inFlightNow));
    this.queuedValues.push(this.queuedNow);
    this.queuedPeaks.push(Math.max(carriedQueued, this.queuedNow));
    if (this.ts.length > this.maxPoints) this.coarsen();
  }

  /** Doubles the bucket width (until the series fits in half its bound), merging points that now share a bucket. */
  private coarsen(): void {
    while (this.ts.length > this.maxPoints / 2) {
      this.bucketMs *= 2;
      const ts: number[] = [];
      const values: number[] = [];
      const peaks: number[] = [];
      const queuedValues: number[] = [];
      const queuedPeaks: number[] = [];
      for (let i = 0; i < this.ts.length; i++) {
        const bucket = Math.floor((this.ts[i] as number) / this.bucketMs) * this.bucketMs;
        const j = ts.length - 1;
        if (j >= 0 && ts[j] === bucket) {
          values[j] = this.values[i] as number;
          peaks[j] = Math.max(peaks[j] as number, this.peaks[i] as number);
          queuedValues[j] = this.queuedValues[i] as number;
          queuedPeaks[j] = Math.max(queuedPeaks[j] as number, this.queuedPeaks[i] as number);
        } else {
          ts.push(bucket);
          values.push(this.values[i] as number);
          peaks.push(this.peaks[i] as number);
          queuedValues.push(this.queuedValues[i] as number);
          queuedPeaks.push(this.queuedPeaks[i] as number);
        }
      }
      this.ts = ts;
      this.values = values;
      this.peaks = peaks;
      this.queuedValues = queuedValues;
      this.queuedPeaks = queuedPeaks;
    }
  }

  snapshot(): EmulatorMetrics {
    const series: SeriesPoint[] = new Array<SeriesPoint>(this.ts.length);
    for (let i = 0; i < this.ts.length; i++) {
      series[i] = {
        t: this.ts[i] as number,
        inFlight: this.values[i] as number,
        max: this.peaks[i] as number,
        queued: this.queuedValues[i] as number,
        queuedMax: this.queuedPeaks[i] as number,
      };
    }
    return {
      ...this.totals,
      inFlight: this.inFlightNow,
      inFlightMax: this.inFlightPeak,
      queued: this.queuedNow,
      queuedMax: this.queuedPeak,
      uptimeMs: Math.round(this.now() - this.resetAt),
      byEndpoint: Object.fromEntries([...this.byEndpoint].map(([k, v]) => [k, { ...v }])),
      seriesBucketMs: this.bucketMs,
      series,
    };
  }
}

/**
 * From an in-flight series: the span from the first to the last moment a request was being served, and
 * the mean served then (for a queueing provider: mean slots busy while there was LLM work).
 */
export function llmPhase(series: ReadonlyArray<Pick<SeriesPoint, 't' | 'inFlight'> & { queued?: number }>) {
  const first = series.findIndex((p) => p.inFlight > 0);
  let last = series.length - 1;
  while (last > 0 && series[last]!.inFlight === 0) last--;
  let area = 0;
  let queuedArea = 0;
  for (let i = Math.max(0, first); i < last; i++) {
    const dt = series[i + 1]!.t - series[i]!.t;
    area += series[i]!.inFlight * dt;
    queuedArea += (series[i]!.queued ?? 0) * dt;
  }
  const span = first < 0 ? 0 : series[last]!.t - series[first]!.t;
  /** Mean calls in service, and waiting in the provider's queue (a queueing provider), over the phase. */
  return { span, meanInFlight: span ? area / span : 0, meanQueued: span ? queuedArea / span : 0 };
}
