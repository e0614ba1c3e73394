// Types of the test-suite quality analysis (seed 002): test functions found by the parsers, what
// the rules decide about them, and what is left uncertain for the LLM.
import type { QUALITY_ISSUE_KINDS } from '../llm-tasks';

export type QualityIssueKind = (typeof QUALITY_ISSUE_KINDS)[number];
export type TestLanguage = 'typescript' | 'javascript' | 'python';

/** One test function (a `test(...)`/`it(...)` call, or a Python `def test_...`). */
export interface TestFunction {
  /**
   * Stable id: `<path>::<fullName>#<occurrence>`. It depends only on the file's path (relative to
   * the analyzed root) and the test's name, so the oracle's truth and cached answers survive edits
   * elsewhere in the file.
   */
  id: string;
  path: string;
  language: TestLanguage;
  /** The test's own name. */
  name: string;
  /** Name with its enclosing `describe` blocks (`A > B > name`) or class (`TestA::test_b`). */
  fullName: string;
  /** 0 for the first test with this fullName in the file, 1 for the next (a duplicate) ... */
  occurrence: number;
  /** 1-based, inclusive; decorators included. */
  startLine: number;
  endLine: number;
  source: string;
  /** Marked skipped: `.skip`/`.todo`/`xit`, a skipped describe, `@pytest.mark.skip`, `pytest.skip()`. */
  skipped: boolean;
}

export interface QualityFinding {
  kind: QualityIssueKind;
  message: string;
}

export interface FunctionAnalysis extends TestFunction {
  /** Issues the rules are certain of. */
  findings: QualityFinding[];
  /** Why the rules cannot decide (weak-looking assertions, many mocks, borderline length ...). */
  signals: string[];
  /** Goes to the LLM: some signal, not skipped, not already without any assertion. */
  uncertain: boolean;
}

export interface FileAnalysis {
  path: string;
  language: TestLanguage;
  functions: FunctionAnalysis[];
  /** Set when the file could not be parsed; its functions are then empty. */
  error?: string;
}
