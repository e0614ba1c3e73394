// `llm` queue: one combined structured call per uncertain test function (`test_quality`).
import { answerJsonSchema, type TestQualityAnswer } from '../../domain/llm-tasks';
import { testQualityMessages, testQualitySchemaFor } from '../../domain/quality';
import type { LlmClient } from '../../llm/llm-client';
import { activityLlmCall } from '../shared/activity-llm-call';
import type { AnalyzeTestFunctionInput } from './types';

export function createQualityLlmActivities({ llm }: { llm: LlmClient }) {
  return {
    /** One combined structured call per uncertain test function. */
    async analyzeTestFunction(input: AnalyzeTestFunctionInput): Promise<Omit<TestQualityAnswer, 'id'>> {
      const value = await activityLlmCall(llm, {
        runId: input.runId,
        task: 'test_quality',
        messages: testQualityMessages(input.fn),
        schema: testQualitySchemaFor(input.fn.id),
        jsonSchema: answerJsonSchema('test_quality'),
        noCache: input.noCache,
        fairnessKey: input.runId,
      });
      return { hasIssue: value.hasIssue, issues: value.issues };
    },
  };
}
