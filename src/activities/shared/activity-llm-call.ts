// A structured LLM call as an `llm`-queue activity makes it: under the activity's logical call ids,
// cancelled with the activity, heartbeating while it waits and while the provider answers, and its
// provider errors turned into the ApplicationFailures the workflows' retry policy reads.
import { Context } from '@temporalio/activity';
import { toActivityFailure } from '../../llm/errors';
import type { LlmClient, StructuredCallInput } from '../../llm/llm-client';
import { llmCallIds } from './llm-call-ids';

/** What the activity says of its call; the ids, the cancellation signal and the heartbeat are added. */
export type ActivityLlmCall<T> = Omit<StructuredCallInput<T>, 'callId' | 'answerId' | 'signal' | 'heartbeat'>;

/**
 * The call's validated answer; a failed call throws the activity's failure. `callIndex` tells the
 * calls of one activity apart (their answers are kept apart in the ledger). @default 0
 */
export async function activityLlmCall<T>(
  llm: LlmClient,
  call: ActivityLlmCall<T>,
  callIndex = 0,
): Promise<T> {
  const ctx = Context.current();
  try {
    const { value } = await llm.structured({
      ...call,
      ...llmCallIds(callIndex),
      signal: ctx.cancellationSignal,
      heartbeat: () => ctx.heartbeat(),
    });
    return value;
  } catch (err) {
    throw toActivityFailure(err, ctx.info.attempt);
  }
}
