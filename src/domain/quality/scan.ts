// One test file in, its test functions with the rules' verdicts out (pure: the activity does I/O).
import { findJsTestCalls, type RawTestCall } from './js-parser';
import { findPyTests } from './py-parser';
import { DEFAULT_QUALITY_RULES, analyzeFunction, type QualityRuleOptions } from './rules';
import type { FileAnalysis, TestFunction, TestLanguage } from './types';

/** Longest test name kept in an id (ids are DynamoDB sort keys and prompt item ids). */
const MAX_NAME_IN_ID = 200;

/** The language of a test file by its name, or undefined for files that are not tests. */
export function testLanguageOf(path: string): TestLanguage | undefined {
  const base = path.split('/').pop() ?? path;
  if (/\.(?:test|spec)\.[cm]?tsx?$/.test(base)) return 'typescript';
  if (/\.(?:test|spec)\.[cm]?jsx?$/.test(base)) return 'javascript';
  if (/^test_.*\.py$/.test(base) || /_test\.py$/.test(base)) return 'python';
  return undefined;
}

export function functionIdOf(path: string, fullName: string, occurrence: number): string {
  return `${path}::${fullName.slice(0, MAX_NAME_IN_ID)}#${occurrence}`;
}

function lineStarts(src: string): number[] {
  const starts = [0];
  for (let i = 0; i < src.length; i++) if (src[i] === '\n') starts.push(i + 1);
  return starts;
}

/** 1-based line of an offset. */
function lineAt(starts: number[], offset: number): number {
  let lo = 0;
  let hi = starts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (starts[mid]! <= offset) lo = mid;
    else hi = mid - 1;
  }
  return lo + 1;
}

interface Located {
  name: string;
  fullName: string;
  startLine: number;
  endLine: number;
  skipped: boolean;
}

function jsFunctions(src: string): Located[] {
  const calls = findJsTestCalls(src);
  const starts = lineStarts(src);
  const suites = calls.filter((c) => c.kind === 'suite');
  const isSkipped = (c: RawTestCall) =>
    c.callee.startsWith('x') || c.modifiers.includes('skip') || c.modifiers.includes('todo');
  return calls
    .filter((c) => c.kind === 'test')
    .map((t) => {
      const enclosing = suites.filter((s) => s.start < t.start && t.end <= s.end);
      return {
        name: t.name,
        fullName: [...enclosing.map((s) => s.name), t.name].join(' > '),
        startLine: lineAt(starts, t.start),
        endLine: lineAt(starts, Math.max(t.start, t.end - 1)),
        skipped: isSkipped(t) || enclosing.some(isSkipped),
      };
    });
}

function pyFunctions(src: string): Located[] {
  const lines = src.split('\n');
  return findPyTests(src).map((t) => {
    const body = lines.slice(t.startLine, t.endLine + 1).join('\n');
    return {
      name: t.name,
      fullName: [...t.classes, t.name].join('::'),
      startLine: t.startLine + 1,
      endLine: t.endLine + 1,
      skipped: t.skippedByDecorator || /^\s*(?:pytest\.skip|self\.skipTest)\(/m.test(body),
    };
  });
}

/**
 * Finds a file's test functions and applies the rules. `path` is relative to the analyzed root
 * (forward slashes): it is part of every function id.
 */
export function analyzeTestFile(
  path: string,
  text: string,
  options: QualityRuleOptions = DEFAULT_QUALITY_RULES,
): FileAnalysis {
  const language = testLanguageOf(path);
  if (!language) return { path, language: 'javascript', functions: [], error: 'not a test file' };
  let located: Located[];
  try {
    located = language === 'python' ? pyFunctions(text) : jsFunctions(text);
  } catch (err) {
    return { path, language, functions: [], error: `cannot parse: ${(err as Error).message}` };
  }
  const lines = text.split('\n');
  const seen = new Map<string, number>();
  const functions = located.map((l) => {
    const occurrence = seen.get(l.fullName) ?? 0;
    seen.set(l.fullName, occurrence + 1);
    const fn: TestFunction = {
      id: functionIdOf(path, l.fullName, occurrence),
      path,
      language,
      name: l.name,
      fullName: l.fullName,
      occurrence,
      startLine: l.startLine,
      endLine: l.endLine,
      source: lines.slice(l.startLine - 1, l.endLine).join('\n'),
      skipped: l.skipped,
    };
    return analyzeFunction(fn, options);
  });
  return { path, language, functions };
}
