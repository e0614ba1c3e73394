// The text each kind of receipt item is embedded as. One definition for every pipeline that writes
// vectors into Chroma (harmonizer, embedding pipeline), so a record's vector never depends on who
// wrote it.

/**
 * A word is embedded marked in its immediate context, e.g. `CHEESE <4.43>` or `@ <4.43> 13.29`.
 * The bare word cannot tell a unit price from a line total of the same amount, and the whole line
 * makes every word of a line look alike (a DATE next to its TIME); one word either side was
 * measured best for the harmonizer's neighbour rules (docs/ARCHITECTURE.md, "Label harmonizer").
 */
export function wordEmbeddingText(text: string, lineText?: string, wordIndex?: number): string {
  if (!lineText) return `<${text}>`;
  const tokens = lineText.split(/\s+/).filter(Boolean);
  const i = wordIndex !== undefined && tokens[wordIndex] === text ? wordIndex : tokens.indexOf(text);
  if (i < 0) return `<${text}>`;
  return [tokens[i - 1], `<${text}>`, tokens[i + 1]].filter(Boolean).join(' ');
}

/** A line is embedded as its text. */
export function lineEmbeddingText(text: string): string {
  return text;
}
