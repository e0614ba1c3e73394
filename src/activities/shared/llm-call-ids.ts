// The ids of an LLM call made by the current activity: derived here only, for every pipeline.
import { Context } from '@temporalio/activity';
import type { CallIds } from '../../llm/llm-client';

/**
 * `callId` names this attempt (one call record each); `answerId` names the logical call, the same
 * on every attempt, under which its paid answer is kept (answer-ledger.ts) so a retry whose previous
 * attempt was paid does not pay again. Both hold the Temporal run id: activity ids restart after
 * continue-as-new, and a call of the new run is another call. `index` tells the calls of one
 * activity apart (0, the first, adds nothing, so existing call ids keep their shape).
 */
export function llmCallIds(index = 0): Required<CallIds> {
  const info = Context.current().info;
  const exec = info.workflowExecution;
  const call = `${exec?.workflowId ?? 'standalone'}/${exec?.runId ?? ''}/${info.activityId}`;
  const answerId = index === 0 ? call : `${call}/${index}`;
  return { callId: `${answerId}#${info.attempt}`, answerId };
}
