// Finds test functions in TypeScript/JavaScript test files: `test(...)`, `it(...)` and their
// `.skip/.only/.todo/.each` forms inside (nested) `describe(...)` blocks, with line spans. A small
// tokenizer that knows strings, template literals, comments and regex literals keeps braces and
// parentheses inside them from confusing the matching.

interface Token {
  type: 'id' | 'str' | 'tmpl' | 'punct' | 'num' | 'regex';
  value: string;
  start: number;
  end: number;
}

export interface RawTestCall {
  kind: 'suite' | 'test';
  /** `test`, `it`, `xit`, `describe` ... */
  callee: string;
  modifiers: string[];
  name: string;
  start: number;
  /** Offset just past the call's closing parenthesis. */
  end: number;
}

const TEST_CALLEES = new Set(['test', 'it', 'xit', 'xtest', 'fit', 'specify']);
const SUITE_CALLEES = new Set(['describe', 'xdescribe', 'fdescribe', 'suite', 'context']);
/** After these, a `/` starts a regex literal rather than a division. */
const REGEX_AFTER_WORDS = new Set([
  'return',
  'typeof',
  'case',
  'do',
  'else',
  'in',
  'of',
  'new',
  'delete',
  'void',
  'throw',
  'instanceof',
  'yield',
  'await',
]);

/** Offset just past the string literal opening at `at` (an unterminated one ends at the line). */
function skipString(src: string, at: number): number {
  const n = src.length;
  const q = src[at];
  let j = at + 1;
  while (j < n && src[j] !== q && src[j] !== '\n') j += src[j] === '\\' ? 2 : 1;
  return Math.min(n, j + 1);
}

/** Offset just past the `//` or `/*` comment opening at `at`. */
function skipComment(src: string, at: number): number {
  if (src[at + 1] === '/') {
    const e = src.indexOf('\n', at);
    return e < 0 ? src.length : e;
  }
  const e = src.indexOf('*/', at + 2);
  return e < 0 ? src.length : e + 2;
}

/** `${ ... }` inside a template: balanced braces, with nested strings, templates and comments. */
function skipTemplateExpression(src: string, at: number): number {
  const n = src.length;
  let depth = 1;
  let j = at;
  while (j < n) {
    const c = src[j]!;
    if (c === '"' || c === "'") j = skipString(src, j);
    else if (c === '`') j = skipTemplate(src, j);
    else if (c === '/' && (src[j + 1] === '/' || src[j + 1] === '*')) j = skipComment(src, j);
    else {
      if (c === '{') depth++;
      else if (c === '}' && --depth === 0) return j + 1;
      j++;
    }
  }
  return n;
}

/** Offset just past the template literal opening at `at`. */
function skipTemplate(src: string, at: number): number {
  const n = src.length;
  let j = at + 1;
  while (j < n) {
    const c = src[j];
    if (c === '\\') j += 2;
    else if (c === '`') return j + 1;
    else if (c === '$' && src[j + 1] === '{') j = skipTemplateExpression(src, j + 2);
    else j++;
  }
  return n;
}

/** Whether a `/` after these tokens starts a regex literal rather than a division. */
function regexAllowed(tokens: Token[]): boolean {
  const prev = tokens[tokens.length - 1];
  if (!prev) return true;
  if (prev.type === 'punct') return !')]}'.includes(prev.value);
  return prev.type === 'id' && REGEX_AFTER_WORDS.has(prev.value);
}

/** Offset just past the regex literal (and its flags) opening at `at`. */
function skipRegex(src: string, at: number): number {
  const n = src.length;
  let j = at + 1;
  let inClass = false;
  while (j < n && src[j] !== '\n') {
    const c = src[j];
    if (c === '\\') j += 2;
    else {
      if (c === '[') inClass = true;
      else if (c === ']') inClass = false;
      else if (c === '/' && !inClass) {
        j++;
        while (j < n && /[a-z]/i.test(src[j]!)) j++;
        return j;
      }
      j++;
    }
  }
  return j;
}

/** The token starting at `start` (not whitespace nor a comment). */
function tokenAt(src: string, start: number, tokens: Token[]): Token {
  const n = src.length;
  const c = src[start]!;
  let i = start;
  if (c === '"' || c === "'") {
    i = skipString(src, i);
    return { type: 'str', value: unescape(src.slice(start + 1, i - 1)), start, end: i };
  }
  if (c === '`') {
    i = skipTemplate(src, i);
    return { type: 'tmpl', value: src.slice(start + 1, i - 1), start, end: i };
  }
  if (/[A-Za-z_$]/.test(c)) {
    while (i < n && /[\w$]/.test(src[i]!)) i++;
    return { type: 'id', value: src.slice(start, i), start, end: i };
  }
  if (/\d/.test(c)) {
    while (i < n && /[\w.]/.test(src[i]!)) i++;
    return { type: 'num', value: src.slice(start, i), start, end: i };
  }
  if (c === '/' && regexAllowed(tokens)) {
    i = skipRegex(src, i);
    return { type: 'regex', value: src.slice(start, i), start, end: i };
  }
  return { type: 'punct', value: c, start, end: i + 1 };
}

export function tokenizeJs(src: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    if (/\s/.test(c)) i++;
    else if (c === '/' && (src[i + 1] === '/' || src[i + 1] === '*')) i = skipComment(src, i);
    else {
      const token = tokenAt(src, i, tokens);
      tokens.push(token);
      i = token.end;
    }
  }
  return tokens;
}

function unescape(s: string): string {
  return s.replace(/\\(.)/g, (_, ch: string) => (ch === 'n' ? '\n' : ch === 't' ? '\t' : ch));
}

/** Index of the `)` matching the `(` at `open`, or the last token when unbalanced. */
function matchParen(tokens: Token[], open: number): number {
  let depth = 0;
  for (let k = open; k < tokens.length; k++) {
    const t = tokens[k]!;
    if (t.type !== 'punct') continue;
    if (t.value === '(') depth++;
    else if (t.value === ')' && --depth === 0) return k;
  }
  return tokens.length - 1;
}

function nameOf(t: Token | undefined): string {
  if (!t) return '<anonymous>';
  if (t.type === 'str') return t.value;
  if (t.type === 'tmpl') return t.value.includes('${') ? t.value.replace(/\$\{[^}]*\}/g, '%s') : t.value;
  if (t.type === 'id') return `<${t.value}>`;
  return '<dynamic>';
}

/** Every suite and test call of a file, in source order. */
export function findJsTestCalls(src: string): RawTestCall[] {
  const tokens = tokenizeJs(src);
  const calls: RawTestCall[] = [];
  for (let k = 0; k < tokens.length; k++) {
    const t = tokens[k]!;
    if (t.type !== 'id') continue;
    const isTest = TEST_CALLEES.has(t.value);
    if (!isTest && !SUITE_CALLEES.has(t.value)) continue;
    const prev = tokens[k - 1];
    if (prev?.type === 'punct' && prev.value === '.') continue; // obj.test(...) is not a test
    let j = k + 1;
    const modifiers: string[] = [];
    while (tokens[j]?.value === '.' && tokens[j + 1]?.type === 'id') {
      modifiers.push(tokens[j + 1]!.value);
      j += 2;
    }
    if (modifiers.includes('each')) {
      // test.each(table)(name, fn) or test.each`table`(name, fn)
      if (tokens[j]?.type === 'tmpl') j++;
      else if (tokens[j]?.value === '(') j = matchParen(tokens, j) + 1;
    }
    if (tokens[j]?.type !== 'punct' || tokens[j]?.value !== '(') continue;
    const close = matchParen(tokens, j);
    calls.push({
      kind: isTest ? 'test' : 'suite',
      callee: t.value,
      modifiers,
      name: nameOf(tokens[j + 1]),
      start: t.start,
      end: tokens[close]!.end,
    });
  }
  return calls;
}
