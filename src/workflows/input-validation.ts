// Checks of every root workflow's input, run first thing in the workflow: a bad field fails the run
// at once, non-retryably, naming the field and what is allowed, instead of making workflow code
// throw (and its task retry) forever. Workflow-safe: no Node built-ins, no zod, no I/O; ids are
// checked by the one pure validator of domain/ids.ts (the rule the stores and the CLI apply too).
import { ApplicationFailure, patched } from '@temporalio/workflow';
import { idRuleBroken } from '../domain/ids';

/** Most ids one input may list (bigger selections belong in the store, not in history). */
export const MAX_LISTED_IDS = 10_000;
const MAX_TEXT_LENGTH = 1_024;
/** Marks runs whose input is checked; runs started before keep replaying as they were. */
export const INPUT_VALIDATION_PATCH = 'validate-root-input';

function describe(value: unknown): string {
  if (typeof value === 'string')
    return JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}...` : value);
  if (Array.isArray(value)) return 'an array';
  return value === null ? 'null' : typeof value === 'number' ? String(value) : typeof value;
}

/** Collects the problems of one input; `field` names are dotted paths (`widths.batches`). */
export class InputCheck {
  readonly problems: string[] = [];

  private add(field: string, problem: string): void {
    this.problems.push(`${field} ${problem}`);
  }

  int(field: string, value: unknown, min: number, max = Number.MAX_SAFE_INTEGER): this {
    if (value === undefined) return this;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max)
      this.add(field, `must be an integer from ${min} to ${max}, got ${describe(value)}`);
    return this;
  }

  number(field: string, value: unknown, min: number, max = Number.MAX_VALUE): this {
    if (value === undefined) return this;
    if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max)
      this.add(field, `must be a number from ${min} to ${max}, got ${describe(value)}`);
    return this;
  }

  bool(field: string, value: unknown): this {
    if (value !== undefined && typeof value !== 'boolean')
      this.add(field, `must be true or false, got ${describe(value)}`);
    return this;
  }

  oneOf(field: string, value: unknown, allowed: readonly string[]): this {
    if (value !== undefined && !allowed.includes(value as string))
      this.add(field, `must be one of ${allowed.join(', ')}, got ${describe(value)}`);
    return this;
  }

  text(field: string, value: unknown, maxLength = MAX_TEXT_LENGTH): this {
    if (value === undefined) return this;
    if (typeof value !== 'string' || value.length > maxLength)
      this.add(field, `must be a string of at most ${maxLength} characters, got ${describe(value)}`);
    return this;
  }

  /** An S3 key prefix: bounded, and no `..` segment. */
  keyPrefix(field: string, value: unknown): this {
    this.text(field, value);
    if (typeof value === 'string' && value.split('/').includes('..'))
      this.add(field, `must not contain a ".." segment, got ${describe(value)}`);
    return this;
  }

  id(field: string, value: unknown): this {
    if (value === undefined) return this;
    const problem = idRuleBroken(value);
    if (problem) this.add(field, `${problem}, got ${describe(value)}`);
    return this;
  }

  ids(field: string, value: unknown, maxItems = MAX_LISTED_IDS): this {
    if (value === undefined) return this;
    if (!Array.isArray(value) || value.length > maxItems) {
      this.add(field, `must be a list of at most ${maxItems} ids, got ${describe(value)}`);
      return this;
    }
    const bad = value.findIndex((v) => idRuleBroken(v) !== undefined);
    if (bad >= 0) this.id(`${field}[${bad}]`, value[bad]);
    return this;
  }

  /** An optional object whose keys must all be known; returns it (or {}) to check its fields. */
  object(field: string, value: unknown, known?: readonly string[]): Record<string, unknown> {
    if (value === undefined) return {};
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      this.add(field, `must be an object, got ${describe(value)}`);
      return {};
    }
    const unknown = known ? Object.keys(value).filter((k) => !known.includes(k)) : [];
    if (unknown.length)
      this.add(field, `has unknown fields ${unknown.join(', ')} (known: ${known!.join(', ')})`);
    return value as Record<string, unknown>;
  }

  /**
   * Throws the non-retryable `InvalidInput` failure listing every problem, if any. Only runs started
   * with this check in place fail here; an older history replays as it ran.
   */
  throwIfInvalid(workflowType: string): void {
    if (this.problems.length === 0 || !patched(INPUT_VALIDATION_PATCH)) return;
    throw ApplicationFailure.nonRetryable(
      `Invalid ${workflowType} input: ${this.problems.join('; ')}. Fix the input and start a new run.`,
      'InvalidInput',
      { problems: this.problems },
    );
  }
}
