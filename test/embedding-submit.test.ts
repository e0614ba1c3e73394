// The step that creates a batch at the provider (UPLOADED -> SUBMITTED), on the real stack (dynalite,
// the emulator's Batch API over HTTP): two attempts at once (a retry started while a slow attempt
// still runs) create one provider batch, not two; a claim left by a dead attempt is taken over and
// the batch it made is found, not made again.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createSubmitActivities, type SubmitEmbeddingBatchInput } from '../src/activities/embed/submit';
import type { EmbeddingDeps } from '../src/activities/embed/deps';
import { createEmbeddingDeps } from '../src/deps';
import { batchKeyOf, requestLine, type EmbedKind } from '../src/domain/embedding';
import type { BatchRecord } from '../src/stores/embeddings';
import {
  lapsedCreationClaim,
  providerBatchIds,
  runAsAttempt,
  slowToCreate,
} from '../dev/harness/batch-creation-harness';
import { embedHarnessEnv } from '../dev/harness/embed-harness';
import { freePort, startHarness, uniqueId, type Harness } from '../dev/harness/pipeline';

const MODEL = 'text-embedding-3-small';
/** How long the provider takes to create a batch: long enough for a second attempt to look first. */
const SLOW_CREATE_MS = 400;

/**
 * A batch record left UPLOADED (its input file at the provider, no batch yet), written as records
 * were before the CREATING state existed; `extra` changes it (e.g. a claim of a dead attempt).
 */
async function uploadedRecord(
  deps: EmbeddingDeps,
  extra: Partial<BatchRecord> = {},
): Promise<{ input: SubmitEmbeddingBatchInput; rec: BatchRecord }> {
  const runId = uniqueId('embed-submit-');
  const kind: EmbedKind = 'LINE';
  const batchKey = batchKeyOf(runId, kind, 0);
  const body = ['r1#L000', 'r1#L001', 'r1#L002']
    .map((id) => requestLine(kind, id, `text ${id}`, MODEL))
    .join('');
  const fileId = await deps.batchApi.uploadInputFile(body, 'submit-test.jsonl');
  const now = Date.now();
  const rec: BatchRecord = {
    batchKey,
    runId,
    kind,
    seq: 0,
    state: 'UPLOADED',
    createdAt: now,
    candidates: 3,
    itemCount: 3,
    fileId,
    uploadedAt: now,
    ...extra,
  };
  assert.ok(await deps.embeddings.createBatch(rec));
  const input = { runId, kind, seq: 0, model: MODEL, maxRequests: 10, maxBytes: 1_000_000 };
  return { input, rec };
}

/** Runs the submit activity as attempt `attempt` of its own. */
const submitAs = (deps: EmbeddingDeps, attempt: number, input: SubmitEmbeddingBatchInput) =>
  runAsAttempt(attempt, createSubmitActivities(deps).submitEmbeddingBatch, input);

describe(
  'embedding submission: one provider batch per record, whatever runs at once',
  { timeout: 120_000 },
  () => {
    let h: Harness;
    let deps: EmbeddingDeps;
    before(async () => {
      const port = await freePort();
      h = await startHarness({
        queues: [],
        emulator: { port, batchCompleteAfterS: 3600, embeddingDim: 8 },
        env: embedHarnessEnv({ port, tag: uniqueId('s') }),
      });
      deps = createEmbeddingDeps(h.cfg);
    });
    after(async () => {
      await h?.close();
    });

    test('two attempts at once on an UPLOADED record create one batch and both return it', async () => {
      const before = (await providerBatchIds(h.emulator.url)).length;
      const { input, rec } = await uploadedRecord(deps);
      const slow = { ...deps, batchApi: slowToCreate(deps.batchApi, SLOW_CREATE_MS) };
      const [a, b] = await Promise.all([submitAs(slow, 1, input), submitAs(slow, 2, input)]);
      const ids = await providerBatchIds(h.emulator.url);
      assert.equal(ids.length - before, 1, `the provider created one batch, not ${ids.length - before}`);
      assert.equal(a.state, 'SUBMITTED');
      assert.equal(b.state, 'SUBMITTED');
      assert.ok(a.openaiBatchId, 'the first attempt returns the batch id');
      assert.equal(b.openaiBatchId, a.openaiBatchId, 'both attempts return the same batch');
      assert.ok(ids.includes(a.openaiBatchId));
      const saved = await deps.embeddings.getBatch(rec.runId, rec.kind, rec.seq);
      assert.equal(saved?.state, 'SUBMITTED');
      assert.equal(saved?.openaiBatchId, a.openaiBatchId);
    });

    test('a CREATING claim of a dead attempt, past its lease, is taken over and its batch found, not made again', async () => {
      const before = (await providerBatchIds(h.emulator.url)).length;
      const { input, rec } = await uploadedRecord(deps, lapsedCreationClaim());
      // The dead attempt got as far as creating the batch, then died before recording it.
      const made = await deps.batchApi.createEmbeddingsBatch(rec.fileId!, { batch_key: rec.batchKey });
      const r = await submitAs(deps, 3, input);
      assert.equal(r.state, 'SUBMITTED');
      assert.equal(r.openaiBatchId, made.id, 'the batch the dead attempt made');
      assert.equal((await providerBatchIds(h.emulator.url)).length - before, 1, 'no second batch');
      assert.equal((await deps.embeddings.getBatch(rec.runId, rec.kind, rec.seq))?.openaiBatchId, made.id);
    });

    test('a CREATING claim of a dead attempt that made nothing is taken over and the batch made once', async () => {
      const before = (await providerBatchIds(h.emulator.url)).length;
      const { input } = await uploadedRecord(deps, lapsedCreationClaim());
      const r = await submitAs(deps, 3, input);
      assert.equal(r.state, 'SUBMITTED');
      const ids = await providerBatchIds(h.emulator.url);
      assert.equal(ids.length - before, 1);
      assert.ok(r.openaiBatchId && ids.includes(r.openaiBatchId));
    });

    test('an attempt finding a live claim waits for it and returns the batch its holder recorded', async () => {
      const before = (await providerBatchIds(h.emulator.url)).length;
      const { input, rec } = await uploadedRecord(deps, {
        state: 'CREATING',
        creatingBy: 'live-attempt',
        creatingUntil: Date.now() + 60_000,
      });
      const waiting = submitAs(deps, 2, input);
      await new Promise((r) => setTimeout(r, 500));
      // The holder creates its batch and records it while the other attempt waits.
      const made = await deps.batchApi.createEmbeddingsBatch(rec.fileId!, { batch_key: rec.batchKey });
      assert.ok(
        await deps.embeddings.transitionBatch(rec, 'CREATING', 'SUBMITTED', {
          openaiBatchId: made.id,
          submittedAt: Date.now(),
        }),
      );
      const r = await waiting;
      assert.equal(r.openaiBatchId, made.id);
      assert.equal(
        (await providerBatchIds(h.emulator.url)).length - before,
        1,
        'the waiting attempt created nothing',
      );
    });
  },
);
