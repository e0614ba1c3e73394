// pollLlmBatchJob: one per batch job of a batch-mode run. Submits the job (its batch id recorded on
// the job before the activity returns), polls it with durable timers, continuing as new every
// `pollsPerRun` polls, and settles it: answers into the LLM cache, or the job given up (its prompts
// then go realtime). A worker killed anywhere in between resumes from history and the job record.
import { continueAsNew, setHandler, sleep, workflowInfo } from '@temporalio/workflow';
import type { BatchPollSettings } from '../../activities/batch-mode';
import type { BatchCheck } from '../../activities/embed';
import { isFinalBatchStatus, nextPollDelay } from '../../domain/embedding';
import type { LlmBatchOutcome } from '../../stores/llm-batch-jobs';
import { errorMessage, isNonRetryable } from '../shared';
import { embedProxies } from '../embed/options';
import { llmBatchJobQuery } from './messages';

export interface PollLlmBatchJobInput {
  runId: string;
  seq: number;
  poll: BatchPollSettings;
  /** Set by the workflow itself when it continues as new. */
  carry?: PollJobCarry;
}

interface PollJobCarry {
  polls: number;
  delayMs: number;
  runs: number;
  /** Since when the batch cannot be checked (workflow time). */
  failingSince?: number;
}

type Acts = ReturnType<typeof embedProxies>;

/** Submits the job, or gives it up when it cannot be submitted (its prompts go realtime). */
async function submit(acts: Acts, input: PollLlmBatchJobInput): Promise<LlmBatchOutcome | undefined> {
  const ref = { runId: input.runId, seq: input.seq };
  try {
    await acts.control.submitLlmBatchJob(ref);
    return undefined;
  } catch (err) {
    return acts.data.abandonLlmBatchJob({ ...ref, reason: `not submitted: ${errorMessage(err)}` });
  }
}

/** One look at the batch; the job given up when it cannot be checked for `pollGiveUpMs`. */
async function check(
  acts: Acts,
  input: PollLlmBatchJobInput,
  c: PollJobCarry,
): Promise<{ check?: BatchCheck; outcome?: LlmBatchOutcome }> {
  const ref = { runId: input.runId, seq: input.seq };
  try {
    const got = await acts.control.checkLlmBatchJob(ref);
    c.failingSince = undefined;
    return { check: got };
  } catch (err) {
    c.failingSince ??= Date.now();
    if (isNonRetryable(err) || Date.now() - c.failingSince > input.poll.pollGiveUpMs)
      return { outcome: await acts.data.abandonLlmBatchJob({ ...ref, reason: errorMessage(err) }) };
    return {};
  }
}

/** Submits, polls until the batch is final, and settles it; continues as new every `pollsPerRun` polls. */
export async function pollLlmBatchJob(input: PollLlmBatchJobInput): Promise<LlmBatchOutcome> {
  const s = input.poll;
  const c: PollJobCarry = input.carry ?? { polls: 0, delayMs: s.pollInitialMs, runs: 1 };
  let last = 'submitting';
  setHandler(llmBatchJobQuery, () => ({ seq: input.seq, status: last, polls: c.polls, runs: c.runs }));
  const acts = embedProxies(s);
  if (!input.carry) {
    const givenUp = await submit(acts, input);
    if (givenUp) return givenUp;
  }
  for (let pollsThisRun = 0; ;) {
    await sleep(c.delayMs);
    c.delayMs = nextPollDelay(c.delayMs, s.pollBackoff, s.pollMaxMs);
    const { check: got, outcome } = await check(acts, input, c);
    c.polls++;
    pollsThisRun++;
    if (outcome) return outcome;
    if (got) last = got.status;
    if (got && isFinalBatchStatus(got.status))
      return acts.data.processLlmBatchJob({ runId: input.runId, seq: input.seq });
    if (pollsThisRun >= s.pollsPerRun || workflowInfo().continueAsNewSuggested)
      await continueAsNew<typeof pollLlmBatchJob>({ ...input, carry: { ...c, runs: c.runs + 1 } });
  }
}
