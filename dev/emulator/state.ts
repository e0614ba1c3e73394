// The emulator's live state, shared by its routes: settings (patched live through the config
// endpoint), metrics, admission, the fault stream, the queueing model's slots, the batch store and
// the waits that close() must end.
import { AdmissionControl } from './admission';
import { BatchStore, IdSource } from './batches';
import { InferenceEngine } from './engine';
import { MetricsRecorder } from './metrics';
import { SeededRandom } from './random';
import { ServiceSlots } from './service-slots';
import { parseSettingsPatch, type EmulatorSettings } from './settings';
import { TruthSource } from './truth-source';

export class EmulatorState {
  settings: EmulatorSettings;
  readonly metrics = new MetricsRecorder();
  readonly admission = new AdmissionControl();
  readonly engine: InferenceEngine;
  readonly batches: BatchStore;
  readonly ids = new IdSource();
  /** The seeded stream every request's fate is drawn from (restarted by reset and by a new seed). */
  faultRng: SeededRandom;
  /** The queueing model's slots and FIFO queue. */
  readonly slots: ServiceSlots;
  private readonly truth: TruthSource;
  /** Pending latency and timeout waits, so close() can end them. */
  private readonly waits = new Map<NodeJS.Timeout, () => void>();
  /** performance.now() at which the current model load ends (`loadingForMs`). */
  private loadingUntil: number;

  constructor(settings: EmulatorSettings, log: (message: string) => void) {
    this.settings = settings;
    this.loadingUntil = performance.now() + settings.loadingForMs;
    this.slots = new ServiceSlots(() => this.settings, this.metrics);
    this.truth = new TruthSource(settings.truthFile, log);
    this.engine = new InferenceEngine(() => this.settings, this.truth);
    this.batches = new BatchStore({
      engine: this.engine,
      settings: () => this.settings,
      metrics: this.metrics,
      ids: this.ids,
    });
    this.faultRng = new SeededRandom(settings.seed);
  }

  update(patch: unknown): EmulatorSettings {
    const parsed = parseSettingsPatch(patch);
    const next = { ...this.settings, ...parsed };
    const reseed = next.seed !== this.settings.seed;
    this.settings = next;
    this.truth.setPath(next.truthFile);
    if (reseed) this.faultRng = new SeededRandom(next.seed);
    if (parsed.loadingForMs !== undefined) this.loadingUntil = performance.now() + parsed.loadingForMs;
    // More slots (or a bigger queue) may let waiters in now.
    this.slots.pump();
    return this.current();
  }

  /** The settings in force, with `loadingForMs` as the time still left of the current load. */
  current(): EmulatorSettings {
    return { ...this.settings, loadingForMs: this.loadingLeftMs() };
  }

  /** True while a model load (`loadingForMs`) is still going on. */
  loading(): boolean {
    return performance.now() < this.loadingUntil;
  }

  private loadingLeftMs(): number {
    return Math.max(0, Math.ceil(this.loadingUntil - performance.now()));
  }

  reset(): void {
    this.metrics.reset();
    this.admission.reset();
    this.faultRng = new SeededRandom(this.settings.seed);
  }

  endWaits(): void {
    for (const [timer, resolve] of this.waits) {
      clearTimeout(timer);
      resolve();
    }
    this.waits.clear();
    this.slots.close();
  }

  /** A wait that close() ends early. */
  wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waits.delete(timer);
        resolve();
      }, ms);
      this.waits.set(timer, resolve);
    });
  }

  /** The settings as GET /_emulator/config shows them (unset optionals as null). */
  publicSettings(): Record<string, unknown> {
    const s = this.current();
    return { ...s, truthFile: s.truthFile ?? null, faultStatus: s.faultStatus ?? null };
  }
}
