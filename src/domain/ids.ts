// Validation of the ids that become DynamoDB keys, Temporal workflow ids and S3 keys (run ids,
// merchant ids, place ids) and of S3 keys themselves: a bounded charset and length, no `..`, no
// leading `/`, so an id from a command line or an import file cannot escape its key prefix.

/** Longest run, merchant, receipt or place id accepted. */
export const MAX_ID_LENGTH = 100;
/** Longest S3 key accepted (S3's own limit is 1024 bytes). */
export const MAX_S3_KEY_LENGTH = 1024;

/** Characters of an id: letters, digits, `.`, `_`, `:` and `-`. */
export const ID_PATTERN = /^[A-Za-z0-9._:-]+$/;
/** Characters of one S3 key segment: those of an id plus `=` and `+` (snapshot stamps, part names). */
const S3_SEGMENT_PATTERN = /^[A-Za-z0-9._:=+-]+$/;

export type IdKind = 'run id' | 'merchant id' | 'receipt id' | 'place id';

/**
 * Thrown for an id or S3 key outside the accepted shape; the message says what is accepted. Its name
 * is the failure type Temporal gives it when an activity throws it: `InvalidInput`, which every
 * pipeline's activity options list as non-retryable (a bad id never becomes valid on retry).
 */
export class InvalidIdError extends Error {
  override name = 'InvalidInput';
}

/**
 * The rule `value` breaks as an id, phrased to follow the id's name ("must be a string", "is empty",
 * "has characters outside ..."), or undefined when it is a valid one. Pure (no imports): workflow
 * code checks its inputs with it too.
 */
export function idRuleBroken(value: unknown): string | undefined {
  if (typeof value !== 'string') return 'must be a string';
  if (value.length === 0) return 'is empty';
  if (value.length > MAX_ID_LENGTH)
    return `is ${value.length} characters long; at most ${MAX_ID_LENGTH} are accepted`;
  if (!ID_PATTERN.test(value)) return 'has characters outside A-Z a-z 0-9 . _ : -';
  if (value.includes('..')) return 'contains ".."';
  return undefined;
}

/** What is wrong with `value` as an id (naming the kind and the value), or undefined when it is a valid one. */
export function idProblem(kind: IdKind, value: unknown): string | undefined {
  const rule = idRuleBroken(value);
  if (rule === undefined) return undefined;
  // A bad string is quoted: its length alone, or its characters, are the problem.
  const shown = typeof value === 'string' && value.length > 0 && value.length <= MAX_ID_LENGTH;
  return shown ? `${kind} ${JSON.stringify(value)} ${rule}` : `${kind} ${rule}`;
}

/** `value` when it is a valid id, else an InvalidIdError naming the kind and the rule broken. */
export function validId(kind: IdKind, value: unknown): string {
  const problem = idProblem(kind, value);
  if (problem) throw new InvalidIdError(problem);
  return value as string;
}

/** What is wrong with `key` as an S3 key (a prefix, ending in `/`, allowed), or undefined. */
export function s3KeyProblem(key: string): string | undefined {
  if (key.length === 0) return 'S3 key is empty';
  if (key.length > MAX_S3_KEY_LENGTH)
    return `S3 key is ${key.length} characters long; at most ${MAX_S3_KEY_LENGTH} are accepted`;
  if (key.startsWith('/')) return `S3 key ${JSON.stringify(key)} starts with "/"`;
  const segments = key.split('/');
  if (segments.at(-1) === '') segments.pop(); // a prefix such as `snapshots/2024/`
  for (const segment of segments) {
    if (segment === '') return `S3 key ${JSON.stringify(key)} has an empty segment ("//")`;
    if (segment.includes('..')) return `S3 key ${JSON.stringify(key)} contains ".."`;
    if (!S3_SEGMENT_PATTERN.test(segment))
      return `S3 key ${JSON.stringify(key)} has characters outside A-Z a-z 0-9 . _ : = + - /`;
  }
  return undefined;
}

/** `key` when it is a valid S3 key or prefix, else an InvalidIdError. */
export function validS3Key(key: string): string {
  const problem = s3KeyProblem(key);
  if (problem) throw new InvalidIdError(problem);
  return key;
}
