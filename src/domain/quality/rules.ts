// The rule engine: issues it is certain of (no assertion, sleeping, skipped, too long, duplicate or
// unclear name) and signals that make a function "uncertain" (weak-looking or helper-only
// assertions, many mocks, borderline length, nondeterminism): only those go to the LLM.
import type { FunctionAnalysis, QualityFinding, TestFunction, TestLanguage } from './types';

export interface QualityRuleOptions {
  /** Longer than this many lines is TOO_LONG for certain. @default 60 */
  tooLongLines: number;
  /** Longer than this (up to tooLongLines) is borderline: the LLM decides. @default 30 */
  borderlineLines: number;
  /** This many mocks or more make a function uncertain (over-mocked or fine?). @default 3 */
  manyMocks: number;
}

export const DEFAULT_QUALITY_RULES: QualityRuleOptions = {
  tooLongLines: 60,
  borderlineLines: 30,
  manyMocks: 3,
};

interface Patterns {
  strong: RegExp[];
  weak: RegExp[];
  /** Matches that look strong but are weak (subtracted from the strong count). */
  weakLookingStrong?: RegExp;
  /** Classifies a line by itself (Python's bare `assert` statements). */
  assertLine?: (line: string) => 'strong' | 'weak' | undefined;
  helper: RegExp;
  mocks: RegExp;
  sleep: RegExp;
  nondeterminism: RegExp;
}

const JS: Patterns = {
  strong: [
    /\.(?:toBe|toEqual|toStrictEqual|toThrow|toThrowError|toHaveBeenCalledWith|toHaveBeenCalledTimes|toHaveBeenLastCalledWith|toHaveBeenNthCalledWith|toMatch|toMatchObject|toMatchSnapshot|toMatchInlineSnapshot|toContain|toContainEqual|toHaveLength|toHaveProperty|toBeCloseTo|toBeGreaterThan|toBeGreaterThanOrEqual|toBeLessThan|toBeLessThanOrEqual|toBeInstanceOf|toBeNull|toBeUndefined|toBeNaN|toHaveReturnedWith)\(/g,
    /\bassert\.(?:equal|strictEqual|deepEqual|deepStrictEqual|notEqual|notStrictEqual|notDeepStrictEqual|throws|rejects|match|doesNotMatch)\(/g,
    /\.to\.(?:equal|eql|deep\.equal|throw|have\.lengthOf|include|match)\(/g,
  ],
  weak: [
    /\.(?:toBeTruthy|toBeFalsy|toBeDefined|toHaveBeenCalled)\(\)/g,
    /\.not\.(?:toBeNull|toBeUndefined)\(\)/g,
    /\bassert(?:\.ok)?\(/g,
    /\.to\.(?:be\.ok|exist)\b/g,
  ],
  weakLookingStrong: /\.not\.(?:toBeNull|toBeUndefined)\(\)/g,
  helper: /(?<![.\w])(?:assert|expect|verify|check|should)[A-Z]\w*\(/g,
  mocks:
    /\b(?:jest|vi)\.(?:fn|mock|spyOn)\(|\bsinon\.(?:stub|spy|mock|fake)\w*\(|\.mock(?:ResolvedValue|ReturnValue|Implementation|RejectedValue)(?:Once)?\(/g,
  sleep: /\bsetTimeout\(|\bsleep\(|\bdelay\(|\bwaitForTimeout\(/,
  nondeterminism: /\bMath\.random\(|\bDate\.now\(|\bnew Date\(\)/,
};

const PY: Patterns = {
  strong: [
    /\bself\.assert(?:Equal|NotEqual|In|NotIn|Raises|RaisesRegex|Is|IsNone|Greater|GreaterEqual|Less|LessEqual|AlmostEqual|CountEqual|DictEqual|ListEqual|Regex|IsInstance)\(/g,
    /\bpytest\.(?:raises|approx|warns)\(/g,
    /\.assert_(?:called_once_with|called_with|any_call|has_calls|not_called|called_once|awaited_once_with)\(/g,
  ],
  weak: [/\bself\.assert(?:True|False|IsNotNone)\(/g],
  assertLine: (line) => {
    const m = /^\s*assert\s+(.*)$/.exec(line);
    if (!m) return undefined;
    if (/\bis not None\b/.test(m[1]!)) return 'weak';
    return /==|!=|<=|>=|<|>|\bin\b|\bis\b|\bisinstance\(|\ball\(|\bany\(|\blen\(/.test(m[1]!)
      ? 'strong'
      : 'weak';
  },
  helper: /(?<![.\w])(?:assert|check|verify|expect)_\w+\(/g,
  mocks:
    /\b(?:MagicMock|AsyncMock|Mock)\(|(?:@|\b)(?:mock\.)?patch(?:\.object|\.dict)?\(|\bmocker\.(?:patch|spy|Mock)|\bmonkeypatch\.setattr\(/g,
  sleep: /\b(?:time\.|asyncio\.)?sleep\(/,
  nondeterminism: /\brandom\.\w+\(|\bdatetime\.(?:now|utcnow|today)\(|\btime\.time\(|\buuid\.uuid4\(/,
};

const UNCLEAR_JS = new Set([
  'works',
  'it works',
  'test',
  'should work',
  'foo',
  'bar',
  'stuff',
  'misc',
  'temp',
  'todo',
  'check',
  'basic',
  'test it',
]);
const UNCLEAR_PY_SUFFIX = new Set([
  '',
  'it',
  'works',
  'foo',
  'bar',
  'stuff',
  'misc',
  'temp',
  'basic',
  'thing',
  'x',
]);

function count(text: string, re: RegExp): number {
  return (text.match(new RegExp(re.source, re.flags.includes('g') ? re.flags : re.flags + 'g')) ?? []).length;
}

/** The function's code without full-line comments (a comment saying "sleep" is not a sleep). */
function codeOf(source: string, language: TestLanguage): string {
  const comment = language === 'python' ? /^\s*#/ : /^\s*(?:\/\/|\*|\/\*)/;
  return source
    .split('\n')
    .filter((l) => !comment.test(l))
    .join('\n');
}

export function isUnclearName(name: string, language: TestLanguage): boolean {
  const n = name.trim().toLowerCase();
  if (language === 'python') {
    const suffix = n.replace(/^test_?/, '');
    return UNCLEAR_PY_SUFFIX.has(suffix) || /^\d+$/.test(suffix);
  }
  return UNCLEAR_JS.has(n) || /^(?:test\s*)?\d+$/.test(n);
}

/** Applies the rules to one test function (duplicates are decided by the caller's occurrence). */
export function analyzeFunction(
  fn: TestFunction,
  options: QualityRuleOptions = DEFAULT_QUALITY_RULES,
): FunctionAnalysis {
  const p = fn.language === 'python' ? PY : JS;
  const code = codeOf(fn.source, fn.language);
  const findings: QualityFinding[] = [];
  const signals: string[] = [];
  const lines = fn.endLine - fn.startLine + 1;

  if (fn.skipped) findings.push({ kind: 'SKIPPED_TEST', message: 'The test is skipped and never runs.' });
  if (fn.occurrence > 0)
    findings.push({
      kind: 'DUPLICATE_NAME',
      message: `Another test in this file is already named "${fn.fullName}".`,
    });
  if (isUnclearName(fn.name, fn.language))
    findings.push({ kind: 'UNCLEAR_NAME', message: `"${fn.name}" does not say what is tested.` });

  const byLine = code.split('\n').map((l) => p.assertLine?.(l));
  const strong =
    p.strong.reduce((n, re) => n + count(code, re), 0) -
    (p.weakLookingStrong ? count(code, p.weakLookingStrong) : 0) +
    byLine.filter((c) => c === 'strong').length;
  const weak = p.weak.reduce((n, re) => n + count(code, re), 0) + byLine.filter((c) => c === 'weak').length;
  const helper = count(code, p.helper);
  const noAssertion = strong <= 0 && weak === 0 && helper === 0 && !fn.skipped;
  if (noAssertion) findings.push({ kind: 'NO_ASSERTION', message: 'The test asserts nothing.' });
  if (p.sleep.test(code))
    findings.push({ kind: 'SLEEP_IN_TEST', message: 'The test sleeps: slow, and flaky under load.' });
  if (lines > options.tooLongLines)
    findings.push({
      kind: 'TOO_LONG',
      message: `${lines} lines (more than ${options.tooLongLines}): split it.`,
    });

  if (strong <= 0 && weak > 0) signals.push('only weak-looking assertions');
  if (strong <= 0 && weak === 0 && helper > 0) signals.push('asserts only through helper functions');
  const mocks = count(code, p.mocks);
  if (mocks >= options.manyMocks) signals.push(`${mocks} mocks`);
  if (lines > options.borderlineLines && lines <= options.tooLongLines) signals.push(`${lines} lines`);
  if (p.nondeterminism.test(code)) signals.push('uses the clock or randomness');

  return {
    ...fn,
    findings,
    signals,
    uncertain: signals.length > 0 && !fn.skipped && !noAssertion,
  };
}
