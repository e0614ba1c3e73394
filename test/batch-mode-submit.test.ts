// Batch mode's step that creates a job's batch at the provider (UPLOADED -> SUBMITTED), on the real
// stack (dynalite, the emulator's Batch API over HTTP): two attempts at once (a retry started while
// a slow attempt still runs) create one provider batch, not two; a claim left by a dead attempt is
// taken over and the batch it made is found, not made again.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { BatchModeDeps } from '../src/activities/batch-mode';
import { createSubmitLlmBatchActivities, type LlmBatchJobRef } from '../src/activities/batch-mode/submit';
import { createBatchModeDeps, createEmbeddingDeps, createStores } from '../src/deps';
import type { LlmBatchJob } from '../src/stores/llm-batch-jobs';
import {
  lapsedCreationClaim,
  providerBatchIds,
  runAsAttempt,
  slowToCreate,
} from '../dev/harness/batch-creation-harness';
import { embedHarnessEnv } from '../dev/harness/embed-harness';
import { freePort, startHarness, uniqueId, type Harness } from '../dev/harness/pipeline';

/** How long the provider takes to create a batch: long enough for a second attempt to look first. */
const CREATE_DELAY_MS = 400;

/** One chat-completions request line, as batch mode writes them. */
function chatLine(customId: string): string {
  const body = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: `review ${customId}` }] };
  return JSON.stringify({ custom_id: customId, method: 'POST', url: '/v1/chat/completions', body }) + '\n';
}

/**
 * A job left UPLOADED (its request file at the provider, no batch yet), as jobs were written before
 * the CREATING state existed; `extra` changes it (e.g. a claim of a dead attempt).
 */
async function uploadedJob(deps: BatchModeDeps, extra: Partial<LlmBatchJob> = {}): Promise<LlmBatchJob> {
  const runId = uniqueId('bm-submit-');
  const fileId = await deps.batchApi.uploadInputFile(['c1', 'c2'].map(chatLine).join(''), 'job.jsonl');
  const now = Date.now();
  const job: LlmBatchJob = {
    runId,
    seq: 0,
    state: 'UPLOADED',
    inputKey: `${runId}/input-1.jsonl`,
    indexKey: `${runId}/index-1.json`,
    requests: 2,
    createdAt: now,
    fileId,
    uploadedAt: now,
    ...extra,
  };
  assert.ok(await deps.jobs.create(job));
  return job;
}

/** Runs the submit activity as attempt `attempt` of its own. */
const submitAs = (deps: BatchModeDeps, attempt: number, ref: LlmBatchJobRef) =>
  runAsAttempt(attempt, createSubmitLlmBatchActivities(deps).submitLlmBatchJob, ref);

describe(
  'batch-mode submission: one provider batch per job, whatever runs at once',
  { timeout: 120_000 },
  () => {
    let h: Harness;
    let deps: BatchModeDeps;
    let batchesBefore: number;
    before(async () => {
      const port = await freePort();
      h = await startHarness({
        queues: [],
        emulator: { port, batchCompleteAfterS: 3600 },
        env: { LLM_PROVIDER: 'openai', ...embedHarnessEnv({ port, tag: uniqueId('s') }) },
      });
      deps = createBatchModeDeps(h.cfg, createStores(h.cfg), createEmbeddingDeps(h.cfg));
    });
    after(async () => {
      await h?.close();
    });
    const newBatches = async () => (await providerBatchIds(h.emulator.url)).length - batchesBefore;
    /** The job is SUBMITTED with `batchId`, a batch the provider lists. */
    const assertSubmitted = async (job: LlmBatchJob, batchId: string) => {
      assert.ok(batchId && (await providerBatchIds(h.emulator.url)).includes(batchId));
      const saved = await deps.jobs.get(job.runId, job.seq);
      assert.equal(saved?.state, 'SUBMITTED');
      assert.equal(saved?.openaiBatchId, batchId);
    };

    test('two attempts at once on an UPLOADED job create one batch and both return it', async () => {
      batchesBefore = (await providerBatchIds(h.emulator.url)).length;
      const job = await uploadedJob(deps);
      const slow = { ...deps, batchApi: slowToCreate(deps.batchApi, CREATE_DELAY_MS) };
      const ref = { runId: job.runId, seq: job.seq };
      const [a, b] = await Promise.all([submitAs(slow, 1, ref), submitAs(slow, 2, ref)]);
      assert.equal(await newBatches(), 1, 'the provider created one batch');
      assert.equal(b.openaiBatchId, a.openaiBatchId, 'both attempts return the same batch');
      await assertSubmitted(job, a.openaiBatchId);
    });

    test('a CREATING claim of a dead attempt, past its lease, is taken over and its batch found, not made again', async () => {
      batchesBefore = (await providerBatchIds(h.emulator.url)).length;
      const job = await uploadedJob(deps, lapsedCreationClaim());
      // The dead attempt got as far as creating the batch (tagged as jobs are), then died.
      const made = await deps.batchApi.createBatch(job.fileId!, '/v1/chat/completions', {
        run_id: job.runId,
        job: String(job.seq),
      });
      const r = await submitAs(deps, 3, { runId: job.runId, seq: job.seq });
      assert.equal(r.openaiBatchId, made.id, 'the batch the dead attempt made');
      assert.equal(await newBatches(), 1, 'no second batch');
      await assertSubmitted(job, made.id);
    });

    test('a CREATING claim of a dead attempt that made nothing is taken over and the batch made once', async () => {
      batchesBefore = (await providerBatchIds(h.emulator.url)).length;
      const job = await uploadedJob(deps, lapsedCreationClaim());
      const r = await submitAs(deps, 3, { runId: job.runId, seq: job.seq });
      assert.equal(await newBatches(), 1, 'one batch, made by the attempt that took over');
      await assertSubmitted(job, r.openaiBatchId);
    });
  },
);
