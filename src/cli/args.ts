// Minimal flag parsing for the CLI: --flag value, --flag=value, boolean flags, repeated flags.
import { idProblem, type IdKind } from '../domain/ids';

export class UsageError extends Error {
  override name = 'UsageError';
}

/** A flag given without its value; reported when read, after unknown flags have been reported. */
const MISSING = '\u0000missing';

export interface ParsedArgs {
  positional: string[];
  flags: Map<string, string[]>;
}

export function parseArgs(argv: string[], booleanFlags: readonly string[] = []): ParsedArgs {
  const positional: string[] = [];
  const flags = new Map<string, string[]>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('--')) {
      positional.push(a);
      continue;
    }
    const eq = a.indexOf('=');
    const name = eq >= 0 ? a.slice(2, eq) : a.slice(2);
    let value: string;
    if (eq >= 0) value = a.slice(eq + 1);
    else if (booleanFlags.includes(name)) value = 'true';
    else {
      const next = argv[i + 1];
      if (next === undefined || next.startsWith('--')) value = MISSING;
      else {
        value = next;
        i++;
      }
    }
    flags.set(name, [...(flags.get(name) ?? []), value]);
  }
  return { positional, flags };
}

export function flag(args: ParsedArgs, name: string): string | undefined {
  return present(name, args.flags.get(name)?.at(-1));
}

function present(name: string, value: string | undefined): string | undefined {
  if (value === MISSING) throw new UsageError(`--${name} needs a value`);
  return value;
}

export function boolFlag(args: ParsedArgs, name: string): boolean {
  return flag(args, name) === 'true';
}

/** Values of a repeatable flag, also split on commas: --merchant a --merchant b,c */
export function listFlag(args: ParsedArgs, name: string): string[] | undefined {
  const v = args.flags.get(name);
  return v ? v.flatMap((x) => present(name, x)!.split(',')).filter(Boolean) : undefined;
}

/** `value` when it is a valid id of that kind, else a UsageError saying what an id may hold. */
export function usableId(kind: IdKind, value: string): string {
  const problem = idProblem(kind, value);
  if (problem) throw new UsageError(problem);
  return value;
}

/** An id-valued flag (--run-id), validated: ids become DynamoDB, S3 and workflow keys. */
export function idFlag(args: ParsedArgs, name: string, kind: IdKind): string | undefined {
  const value = flag(args, name);
  return value === undefined ? undefined : usableId(kind, value);
}

/** A repeatable id-valued flag (--merchant a,b), each id validated. */
export function idListFlag(args: ParsedArgs, name: string, kind: IdKind): string[] | undefined {
  return listFlag(args, name)?.map((v) => usableId(kind, v));
}

export function numberFlag(
  args: ParsedArgs,
  name: string,
  opts: { min?: number; max?: number; int?: boolean } = {},
) {
  const raw = flag(args, name);
  if (raw === undefined) return undefined;
  const n = Number(raw);
  const bad =
    !Number.isFinite(n) ||
    (opts.int && !Number.isInteger(n)) ||
    (opts.min !== undefined && n < opts.min) ||
    (opts.max !== undefined && n > opts.max);
  if (bad) {
    const range = `${opts.min ?? '-inf'}..${opts.max ?? 'inf'}`;
    throw new UsageError(
      `--${name} must be ${opts.int ? 'an integer' : 'a number'} in ${range}, got "${raw}"`,
    );
  }
  return n;
}

/** Rejects flags a command does not know, so a typo never passes silently. */
export function assertKnownFlags(args: ParsedArgs, known: readonly string[]): void {
  for (const name of args.flags.keys()) {
    if (!known.includes(name))
      throw new UsageError(`unknown flag --${name} (known: ${known.map((k) => '--' + k).join(' ')})`);
  }
}
