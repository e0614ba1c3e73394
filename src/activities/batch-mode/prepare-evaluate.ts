// Batch mode of the label evaluation, first step: every prompt the run's realtime review would send
// (same rules, same chunks, same request), those not answered by the cache yet, cut into batch jobs.
import { ApplicationFailure, Context } from '@temporalio/activity';
import { mapLimit } from '../../domain/chunk';
import { labelReviewCall } from '../evaluate/review';
import { createEvaluatePrepareActivities } from '../evaluate/prepare';
import { createRunRecordActivities } from '../shared/run-records';
import { BATCH_MODE_IO_CONCURRENCY, type BatchModeDeps } from './deps';
import { recordJobs, type PreparedRequest } from './jobs';
import { requestLineOf } from './requests';

export interface PrepareEvaluateBatchJobsInput {
  runId: string;
  merchantIds?: string[];
  /** A redrive: the receipts of the run's plan. */
  redrive?: boolean;
  revalidate: boolean;
  chunkSize: number;
  /** Send every prompt, even those the cache answers. */
  noCache: boolean;
}

export interface PreparedBatchJobs {
  /** Sequence numbers of the run's batch jobs. */
  seqs: number[];
  requests: number;
  /** Prompts the cache answers already (not sent). */
  cached: number;
}

/** Batch mode sends the realtime provider's requests; the cache key names the provider. */
export function assertOpenAi(deps: Pick<BatchModeDeps, 'provider'>): void {
  if (deps.provider !== 'openai')
    throw ApplicationFailure.nonRetryable(
      'Batch mode sends the prompts to the OpenAI Batch API, but the workers call Ollama: set ' +
        'LLM_PROVIDER=openai on the workers (the emulator serves both), or run in realtime mode',
      'InvalidInput',
    );
}

/** Drops the requests the LLM cache answers already (a realtime call would be served from it); returns how many. */
export async function dropCached(
  deps: Pick<BatchModeDeps, 'cache'>,
  requests: Map<string, PreparedRequest>,
): Promise<number> {
  const answered = await mapLimit([...requests.keys()], BATCH_MODE_IO_CONCURRENCY, async (key) =>
    (await deps.cache.get(key)) ? key : undefined,
  );
  for (const key of answered) if (key) requests.delete(key);
  return answered.filter(Boolean).length;
}

export function createPrepareEvaluateBatchActivities(deps: BatchModeDeps) {
  const runRecords = createRunRecordActivities(deps);
  const prepare = createEvaluatePrepareActivities(deps);

  /** The requests of one receipt's review, in chunk order; none for a receipt that cannot be read. */
  async function requestsOf(receiptId: string, input: PrepareEvaluateBatchJobsInput) {
    let plan;
    try {
      plan = await prepare.prepareReceiptReview({
        receiptId,
        revalidate: input.revalidate,
        chunkSize: input.chunkSize,
        withIssues: true,
      });
    } catch {
      return []; // the realtime fan-out records the receipt's failure
    }
    return plan.chunks.map((issues) => {
      const call = labelReviewCall(plan.merchantName, issues);
      const { customId, line } = requestLineOf(call, deps.provider, deps.model);
      return { customId, line, check: { task: 'label_review' as const, ids: issues.map((i) => i.wordId) } };
    });
  }

  return {
    /**
     * Lists the run's receipts as the realtime run would, builds each review request, keeps those
     * the cache does not answer (each identical prompt once) and records them as batch jobs.
     */
    async prepareEvaluateBatchJobs(input: PrepareEvaluateBatchJobsInput): Promise<PreparedBatchJobs> {
      assertOpenAi(deps);
      const ctx = Context.current();
      const redriveRunId = input.redrive ? input.runId : undefined;
      const merchantIds = await runRecords.listMerchantIds({
        merchantIds: input.merchantIds,
        ...(redriveRunId ? { redriveRunId } : {}),
      });
      const receiptIds: string[] = [];
      for (const merchantId of merchantIds)
        receiptIds.push(
          ...(await prepare.listReceiptIds({ merchantId, ...(redriveRunId ? { redriveRunId } : {}) })),
        );
      const perReceipt = await mapLimit(receiptIds, BATCH_MODE_IO_CONCURRENCY, async (receiptId) => {
        ctx.heartbeat();
        return requestsOf(receiptId, input);
      });
      const unique = new Map<string, PreparedRequest>();
      for (const r of perReceipt.flat()) if (!unique.has(r.customId)) unique.set(r.customId, r);
      const cached = input.noCache ? 0 : await dropCached(deps, unique);
      const requests = [...unique.values()];
      const seqs = await recordJobs(deps, input.runId, requests, ctx.info.attempt);
      return { seqs, requests: requests.length, cached };
    },
  };
}
