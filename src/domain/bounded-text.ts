// Length bounds on text that comes from outside (provider answers, import files) before it is stored:
// a DynamoDB item holds at most 400 KB, and a rambling answer must not make a write fail or bloat a table.

/** Longest reason, message or free text from a provider that is stored (schemas ask for far less). */
export const MAX_PROVIDER_TEXT = 1000;
/** Longest word text an import may carry (receipt words are a few characters). */
export const MAX_WORD_TEXT = 200;
/** Longest line text stored (the words of a line joined by spaces). */
export const MAX_LINE_TEXT = 2000;
/** Longest merchant name or date text an import may carry. */
export const MAX_IMPORT_FIELD_TEXT = 200;

const CUT_MARK = '…';

/**
 * `text` unchanged when it fits in `max` characters, else its first characters followed by `…`, in
 * `max` characters in all. Cuts between UTF-16 surrogates are avoided, so the result stays valid text.
 */
export function boundText(text: string, max: number): string {
  if (!Number.isInteger(max) || max < 1)
    throw new RangeError(`boundText: max must be an integer >= 1, got ${max}`);
  if (text.length <= max) return text;
  let end = max - CUT_MARK.length;
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end--; // a high surrogate whose pair would be cut off
  return text.slice(0, end) + CUT_MARK;
}

/** `value` with every string in it (object values and array items, at any depth) bounded by `max`. */
export function boundStrings<T>(value: T, max: number): T {
  if (typeof value === 'string') return boundText(value, max) as T;
  if (Array.isArray(value)) return value.map((v: unknown) => boundStrings(v, max)) as T;
  if (value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = boundStrings(v, max);
    return out as T;
  }
  return value;
}
