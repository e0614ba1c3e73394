// Writes one benchmark's section of docs/BENCHMARKS.md between `<!-- name:start -->` and
// `<!-- name:end -->`, appending the markers at the end when absent; the rest is left untouched.
import fs from 'node:fs';
import path from 'node:path';
import * as prettier from 'prettier';

export const BENCHMARKS_FILE = path.resolve(__dirname, '../docs/BENCHMARKS.md');

export function replaceSection(doc: string, name: string, body: string): string {
  const start = `<!-- ${name}:start -->`;
  const end = `<!-- ${name}:end -->`;
  const block = `${start}\n${body.trim()}\n${end}`;
  const i = doc.indexOf(start);
  const j = doc.indexOf(end);
  if (i >= 0 && j > i) return doc.slice(0, i) + block + doc.slice(j + end.length);
  return `${doc.replace(/\s*$/, '')}\n\n${block}\n`;
}

/** Markdown formatted with the project's prettier settings (tables aligned), as `npm run lint` checks it. */
export async function formatMarkdown(markdown: string, file: string): Promise<string> {
  const options = (await prettier.resolveConfig(file)) ?? {};
  return prettier.format(markdown, { ...options, parser: 'markdown' });
}

/** Formats the section with the project's prettier settings (tables aligned) and writes it. */
export async function writeSection(name: string, body: string, file = BENCHMARKS_FILE): Promise<void> {
  const formatted = await formatMarkdown(body, file);
  const doc = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '# Benchmarks\n';
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, replaceSection(doc, name, formatted));
}

/**
 * Every `<!-- name:start -->...<!-- name:end -->` block of a document, each on its own paragraph:
 * a bench that rewrites the whole file appends these so other benches' sections survive.
 */
export function markedSections(doc: string): string {
  const blocks = doc.match(/<!-- ([\w-]+):start -->[\s\S]*?<!-- \1:end -->/g) ?? [];
  return blocks.map((b) => `\n${b}\n`).join('');
}
