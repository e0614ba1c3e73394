// The one combined prompt per uncertain test function, and the validation of its answer.
import type { z } from 'zod';
import type { ChatMessage } from '../../llm/types';
import {
  QUALITY_ISSUE_KINDS,
  renderEnvelope,
  testQualityAnswerSchema,
  type TestQualityAnswer,
} from '../llm-tasks';
import type { TestLanguage } from './types';

/** What the LLM activity needs of an uncertain function (stored per run, read in pages). */
export interface UncertainFunction {
  id: string;
  path: string;
  language: TestLanguage;
  fullName: string;
  startLine: number;
  endLine: number;
  source: string;
  signals: string[];
}

/** Longest source sent per function; the rest is cut with a marker. */
export const MAX_SOURCE_CHARS = 6000;

const QUALITY_SYSTEM = [
  'You review the quality of one automated test function.',
  `Issue kinds: ${QUALITY_ISSUE_KINDS.join(', ')}.`,
  'A rule engine could not decide about this test; its notes say why. Decide whether the test has',
  'real quality issues (weak or missing checks of the behaviour, over-mocking, flakiness, a length',
  'that hides several tests, an unclear name ...). Report each issue with its kind and one sentence.',
  'Answer with JSON only, following the schema; `id` is the function id from the ITEMS block.',
].join('\n');

const TRUNCATED = '\n... (truncated)';

/** At most MAX_SOURCE_CHARS, without code fences that could end the prompt's; idempotent. */
export function truncateSource(source: string): string {
  const clean = source.replace(/```/g, '`\u200b``');
  return clean.length <= MAX_SOURCE_CHARS
    ? clean
    : clean.slice(0, MAX_SOURCE_CHARS - TRUNCATED.length) + TRUNCATED;
}

export function testQualityMessages(fn: UncertainFunction): ChatMessage[] {
  const fence = fn.language === 'python' ? 'python' : fn.language;
  return [
    { role: 'system', content: QUALITY_SYSTEM },
    {
      role: 'user',
      content: [
        `File: ${fn.path} (lines ${fn.startLine}-${fn.endLine})`,
        `Test: ${fn.fullName}`,
        `Rule engine notes: ${fn.signals.join('; ')}`,
        '',
        '```' + fence,
        truncateSource(fn.source),
        '```',
        '',
        renderEnvelope({ task: 'test_quality', items: [{ id: fn.id, name: fn.fullName, file: fn.path }] }),
      ].join('\n'),
    },
  ];
}

/** The task's schema plus: the id sent, and issues listed exactly when hasIssue. */
export function testQualitySchemaFor(functionId: string): z.ZodType<TestQualityAnswer> {
  return testQualityAnswerSchema.superRefine((a, ctx) => {
    if (a.id !== functionId)
      ctx.addIssue({ code: 'custom', path: ['id'], message: `must be "${functionId}"` });
    if (a.hasIssue !== a.issues.length > 0)
      ctx.addIssue({
        code: 'custom',
        path: ['issues'],
        message: 'list issues exactly when hasIssue is true',
      });
  });
}
