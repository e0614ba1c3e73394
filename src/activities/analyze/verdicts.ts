// An uncertain function's outcome recorded as the run's RESULT: the LLM's verdict, or UNANALYZED
// with the reason its call failed (the run goes on).
import type { TestQualityAnswer } from '../../domain/llm-tasks';
import type { FunctionRef, QualityDeps } from './types';

export function createVerdictActivities({ runs }: QualityDeps) {
  return {
    async saveFunctionVerdict(input: {
      runId: string;
      fn: FunctionRef;
      verdict: Omit<TestQualityAnswer, 'id'>;
    }) {
      await runs.putResult({
        runId: input.runId,
        itemId: input.fn.id,
        status: 'SUCCEEDED',
        detail: {
          path: input.fn.path,
          name: input.fn.fullName,
          line: input.fn.startLine,
          hasIssue: input.verdict.hasIssue,
          issues: input.verdict.issues,
        },
        attempt: 1,
        at: Date.now(),
      });
    },

    /** One failed LLM call: the function is UNANALYZED with the reason; the run goes on. */
    async recordFunctionUnanalyzed(input: { runId: string; fn: FunctionRef; reason: string }) {
      await runs.putResult({
        runId: input.runId,
        itemId: input.fn.id,
        status: 'FAILED',
        reason: input.reason,
        detail: {
          path: input.fn.path,
          name: input.fn.fullName,
          line: input.fn.startLine,
          status: 'UNANALYZED',
        },
        attempt: 1,
        at: Date.now(),
      });
    },
  };
}
