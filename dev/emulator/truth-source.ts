// The truth file the oracle answers from, re-read when it changes (mtime checked at most once per second).
import fs from 'node:fs';
import { emptyTruth, type Truth } from '../../src/domain/llm-tasks';

/** How often, at most, the truth file's mtime is checked. */
export const TRUTH_CHECK_INTERVAL_MS = 1000;

export class TruthSource {
  private truth: Truth | undefined;
  private mtimeMs = -1;
  private checkedAt = Number.NEGATIVE_INFINITY;
  private lastProblem: string | undefined;

  constructor(
    private path: string | undefined,
    private readonly warn: (message: string) => void = (m) => process.stderr.write(`${m}\n`),
    private readonly now: () => number = Date.now,
  ) {}

  /** Points at another file (or none); it is read on the next `get()`. */
  setPath(path: string | undefined): void {
    if (path === this.path) return;
    this.path = path;
    this.truth = undefined;
    this.mtimeMs = -1;
    this.checkedAt = Number.NEGATIVE_INFINITY;
  }

  /** The current truth, or undefined when no file is set or it does not exist (yet). */
  get(): Truth | undefined {
    if (this.path === undefined) return undefined;
    const now = this.now();
    if (now - this.checkedAt < TRUTH_CHECK_INTERVAL_MS) return this.truth;
    this.checkedAt = now;
    let mtimeMs: number;
    try {
      mtimeMs = fs.statSync(this.path).mtimeMs;
    } catch {
      // Not written yet (`seed` may run after the emulator starts): nothing known.
      this.truth = undefined;
      this.mtimeMs = -1;
      return undefined;
    }
    if (mtimeMs !== this.mtimeMs) this.load(this.path, mtimeMs);
    return this.truth;
  }

  private load(path: string, mtimeMs: number): void {
    try {
      const raw = JSON.parse(fs.readFileSync(path, 'utf8')) as Partial<Truth>;
      if (typeof raw !== 'object' || raw === null) throw new Error('not a JSON object');
      this.truth = { ...emptyTruth(raw.seed ?? 0), ...raw };
      this.mtimeMs = mtimeMs;
      this.lastProblem = undefined;
    } catch (err) {
      // A half-written file is likely: keep the previous truth and retry on the next check.
      const problem = `emulator: cannot read truth file ${path}: ${(err as Error).message}; keeping the previous truth`;
      if (problem !== this.lastProblem) this.warn(problem);
      this.lastProblem = problem;
    }
  }
}
