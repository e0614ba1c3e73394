// Finds test functions in Python test files (`def test_...`, also `async def` and methods of test
// classes) with their line spans by indentation, skipping over multi-line signatures and strings.

export interface RawPyTest {
  name: string;
  /** Enclosing classes, outermost first. */
  classes: string[];
  /** 0-based line indexes, inclusive; the first decorator line starts the span. */
  startLine: number;
  endLine: number;
  /** The function or one of its classes carries an unconditional skip decorator. */
  skippedByDecorator: boolean;
}

const DEF_RE = /^(\s*)(?:async\s+)?def\s+(test\w*)\s*\(/;
const CLASS_RE = /^(\s*)class\s+(\w+)/;
/** `@pytest.mark.skip`, `@unittest.skip(...)`, `@skip`: unconditional (not `skipif`/`skipIf`). */
const SKIP_DECORATOR_RE = /^\s*@(?:pytest\.mark\.skip|unittest\.skip|skip)\b(?!If|if)/;

function indentOf(line: string): number {
  let n = 0;
  for (const ch of line) {
    if (ch === ' ') n++;
    else if (ch === '\t') n += 4;
    else break;
  }
  return n;
}

function isBlankOrComment(line: string): boolean {
  const t = line.trim();
  return t === '' || t.startsWith('#');
}

/** Decorator lines directly above line `i` (0-based), topmost first. */
function decoratorsAbove(lines: string[], i: number): number[] {
  const out: number[] = [];
  for (let k = i - 1; k >= 0 && lines[k]!.trim().startsWith('@'); k--) out.unshift(k);
  return out;
}

/** Toggles triple-quote string state over one line; returns whether a string is open after it. */
function tripleQuoteOpenAfter(line: string, open: string | undefined): string | undefined {
  let state = open;
  let i = 0;
  while (i < line.length) {
    if (state) {
      const e = line.indexOf(state, i);
      if (e < 0) return state;
      i = e + 3;
      state = undefined;
    } else {
      const m = /("""|'''|#)/.exec(line.slice(i));
      if (!m) return undefined;
      if (m[1] === '#') return undefined;
      state = m[1];
      i += m.index + 3;
    }
  }
  return state;
}

export function findPyTests(src: string): RawPyTest[] {
  const lines = src.split('\n');
  const out: RawPyTest[] = [];
  const classes: Array<{ indent: number; name: string; skipped: boolean }> = [];
  let openString: string | undefined;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (openString) {
      openString = tripleQuoteOpenAfter(line, openString);
      continue;
    }
    if (isBlankOrComment(line)) continue;
    const indent = indentOf(line);
    while (classes.length && indent <= classes[classes.length - 1]!.indent) classes.pop();
    const cls = CLASS_RE.exec(line);
    if (cls) {
      const skipped = decoratorsAbove(lines, i).some((k) => SKIP_DECORATOR_RE.test(lines[k]!));
      classes.push({ indent, name: cls[2]!, skipped });
      continue;
    }
    const def = DEF_RE.exec(line);
    if (!def) {
      openString = tripleQuoteOpenAfter(line, undefined);
      continue;
    }
    const decorators = decoratorsAbove(lines, i);
    // The signature may span lines: it ends at the line whose parentheses balance.
    let depth = 0;
    let sigEnd = i;
    for (let k = i; k < lines.length; k++) {
      for (const ch of lines[k]!.replace(/#.*$/, '')) {
        if (ch === '(' || ch === '[' || ch === '{') depth++;
        else if (ch === ')' || ch === ']' || ch === '}') depth--;
      }
      sigEnd = k;
      if (depth <= 0) break;
    }
    let end = sigEnd;
    let str: string | undefined;
    for (let k = sigEnd + 1; k < lines.length; k++) {
      const l = lines[k]!;
      if (str) {
        str = tripleQuoteOpenAfter(l, str);
        end = k;
        continue;
      }
      if (isBlankOrComment(l)) continue;
      if (indentOf(l) <= indent) break;
      str = tripleQuoteOpenAfter(l, undefined);
      end = k;
    }
    out.push({
      name: def[2]!,
      classes: classes.map((c) => c.name),
      startLine: decorators[0] ?? i,
      endLine: end,
      skippedByDecorator:
        decorators.some((k) => SKIP_DECORATOR_RE.test(lines[k]!)) || classes.some((c) => c.skipped),
    });
    i = end;
  }
  return out;
}
