// `llm` queue: one combined structured call per uncertain test function (`test_quality`).
import { Context } from '@temporalio/activity';
import { answerJsonSchema, type TestQualityAnswer } from '../../domain/llm-tasks';
import { testQualityMessages, testQualitySchemaFor } from '../../domain/quality';
import { toActivityFailure } from '../../llm/errors';
import type { LlmClient } from '../../llm/llm-client';
import { llmCallIds } from '../shared/llm-call-ids';
import type { AnalyzeTestFunctionInput } from './types';

export function createQualityLlmActivities({ llm }: { llm: LlmClient }) {
  return {
    /** One combined structured call per uncertain test function. */
    async analyzeTestFunction(input: AnalyzeTestFunctionInput): Promise<Omit<TestQualityAnswer, 'id'>> {
      const ctx = Context.current();
      try {
        const { value } = await llm.structured({
          runId: input.runId,
          ...llmCallIds(),
          task: 'test_quality',
          messages: testQualityMessages(input.fn),
          schema: testQualitySchemaFor(input.fn.id),
          jsonSchema: answerJsonSchema('test_quality'),
          noCache: input.noCache,
          fairnessKey: input.runId,
          signal: ctx.cancellationSignal,
          heartbeat: () => ctx.heartbeat(),
        });
        return { hasIssue: value.hasIssue, issues: value.issues };
      } catch (err) {
        throw toActivityFailure(err, ctx.info.attempt);
      }
    },
  };
}
