// processLlmBatchJob: a job whose batch ended. Each answer is judged as the realtime path judges it;
// a valid one goes into the LLM cache under its request's key (the realtime review of the receipt is
// then served from it, and saved as any answer is); every answer paid for gets a call record at the
// Batch API's price. What has no valid answer is left to the realtime path (under the global cap).
import { ApplicationFailure, Context } from '@temporalio/activity';
import { mapLimit } from '../../domain/chunk';
import { isFinalBatchStatus } from '../../domain/embedding';
import { BATCH_PRICE_FACTOR, type CallRecord } from '../../llm/accounting';
import type { Batch } from '../../llm/batch-api';
import { toActivityFailure } from '../../llm/errors';
import type { LlmBatchJob, LlmBatchOutcome } from '../../stores/llm-batch-jobs';
import { BATCH_MODE_IO_CONCURRENCY, type BatchModeDeps } from './deps';
import { jobOf } from './jobs';
import { isValidAnswer, parseAnswerLine, type AnswerCheck, type AnswerLine } from './requests';
import type { LlmBatchJobRef } from './submit';

/** The answer lines of a batch's output file (error lines hold no answer). */
async function answerLines(deps: BatchModeDeps, b: Batch, ctx: Context): Promise<AnswerLine[]> {
  const out: AnswerLine[] = [];
  if (!b.output_file_id) return out;
  for await (const raw of deps.batchApi.fileLines(b.output_file_id)) {
    const line = parseAnswerLine(raw);
    if (line?.answer) out.push(line);
    if (out.length % 500 === 0) ctx.heartbeat();
  }
  return out;
}

/** The call record of an answer a batch paid for: at the Batch API's price, no latency of its own. */
function batchRecordOf(
  deps: BatchModeDeps,
  job: LlmBatchJob,
  line: AnswerLine,
  task: string,
  valid: boolean,
) {
  const a = line.answer!;
  const rec = deps.recorder.record(
    { runId: job.runId, callId: `batch-${job.seq}-${line.customId}`, task },
    valid ? 'ok' : 'invalid_answer',
    Date.now(),
    a.promptTokens,
    a.completionTokens,
    1,
    a.model || deps.model,
    0,
  );
  return { ...rec, costUsd: rec.costUsd * BATCH_PRICE_FACTOR, batch: true } satisfies CallRecord;
}

/** Caches the valid answers and records every paid one; returns the job's outcome. */
async function settleAnswers(deps: BatchModeDeps, job: LlmBatchJob, b: Batch, ctx: Context) {
  const index = JSON.parse((await deps.objects.getText(job.indexKey)) ?? '{}') as Record<string, AnswerCheck>;
  const lines = (await answerLines(deps, b, ctx)).filter((l) => index[l.customId]);
  const records = await mapLimit(lines, BATCH_MODE_IO_CONCURRENCY, async (line) => {
    const a = line.answer!;
    const check = index[line.customId]!;
    const valid = isValidAnswer(check, a.content, a.truncated);
    if (valid)
      await deps.cache.put(line.customId, {
        content: a.content,
        promptTokens: a.promptTokens,
        completionTokens: a.completionTokens,
        model: a.model || deps.model,
      });
    const record = batchRecordOf(deps, job, line, check.task, valid);
    await deps.recorder.save(record);
    ctx.heartbeat();
    return record;
  });
  const answered = records.filter((r) => r.status === 'ok').length;
  const endedAt = b.completed_at ?? b.expired_at ?? b.cancelled_at ?? Math.floor(Date.now() / 1000);
  const outcome: LlmBatchOutcome = {
    finalStatus: b.status,
    requests: job.requests,
    answered,
    invalid: records.length - answered,
    unanswered: job.requests - records.length,
    promptTokens: records.reduce((n, r) => n + r.promptTokens, 0),
    completionTokens: records.reduce((n, r) => n + r.completionTokens, 0),
    costUsd: records.reduce((n, r) => n + r.costUsd, 0),
    turnaroundMs: Math.max(0, (endedAt - b.created_at) * 1000),
  };
  return outcome;
}

/** A job that gave nothing (failed batch, never submitted, unreachable): all its prompts go realtime. */
function unansweredOutcome(job: LlmBatchJob, finalStatus: string): LlmBatchOutcome {
  return {
    finalStatus,
    requests: job.requests,
    answered: 0,
    invalid: 0,
    unanswered: job.requests,
    promptTokens: 0,
    completionTokens: 0,
    costUsd: 0,
    turnaroundMs: 0,
  };
}

function failureOf(err: unknown): unknown {
  return err instanceof ApplicationFailure ? err : toActivityFailure(err);
}

export function createProcessLlmBatchActivities(deps: BatchModeDeps) {
  return {
    /** A job whose batch is final: its answers cached and recorded, the job PROCESSED. Idempotent. */
    async processLlmBatchJob(input: LlmBatchJobRef): Promise<LlmBatchOutcome> {
      const ctx = Context.current();
      try {
        const job = await jobOf(deps, input.runId, input.seq);
        if (job.state === 'PROCESSED' && job.outcome) return job.outcome;
        const b = await deps.batchApi.retrieve(job.openaiBatchId!);
        if (!isFinalBatchStatus(b.status))
          throw ApplicationFailure.nonRetryable(
            `Batch job ${input.seq} is ${b.status}, not final`,
            'InvalidInput',
          );
        const outcome =
          b.status === 'failed' ? unansweredOutcome(job, 'failed') : await settleAnswers(deps, job, b, ctx);
        await deps.jobs.transition(job, 'SUBMITTED', 'PROCESSED', { outcome, status: b.status });
        return outcome;
      } catch (err) {
        throw failureOf(err);
      }
    },

    /**
     * A job given up (its batch could not be submitted, or stayed unreachable): nothing of it is
     * cached, so every prompt goes realtime; a batch still running is cancelled (best effort).
     */
    async abandonLlmBatchJob(input: LlmBatchJobRef & { reason: string }): Promise<LlmBatchOutcome> {
      const job = await jobOf(deps, input.runId, input.seq);
      if (job.state === 'PROCESSED' && job.outcome) return job.outcome;
      if (job.openaiBatchId) await deps.batchApi.cancel(job.openaiBatchId).catch(() => undefined);
      const outcome = unansweredOutcome(job, `abandoned: ${input.reason.slice(0, 300)}`);
      await deps.jobs.transition(job, job.state, 'PROCESSED', { outcome });
      return outcome;
    },
  };
}
