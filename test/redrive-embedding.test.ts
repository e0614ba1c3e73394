// End to end: redrive of an embedding run. A backfill whose batches all expire with partial output
// (one attempt allowed) leaves words FAILED; `redrive` starts a new run, linked to the old one, that
// submits exactly those words and ends with every word embedded once, the lines (not asked for)
// untouched.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { EmbeddingReport } from '../src/activities/embed';
import { startRedrive } from '../src/cli/redrive';
import { createEmbeddingDeps, createStores } from '../src/deps';
import { ChromaStore } from '../src/stores/chroma';
import type { EmbeddableItem } from '../src/stores/embeddings';
import type { embedBackfill } from '../src/workflows/embed';
import { freePort, startHarness, uniqueId, type Harness } from '../dev/harness/pipeline';

/** Word ids by embedding status, with the batch each one was last in. */
async function wordsByStatus(h: Harness): Promise<Map<string, EmbeddableItem[]>> {
  const { embeddings } = createEmbeddingDeps(h.cfg);
  const out = new Map<string, EmbeddableItem[]>();
  for (const status of ['NOT_EMBEDDED', 'PENDING', 'SUCCESS', 'FAILED'] as const)
    out.set(status, await embeddings.listByStatus('WORD', status));
  return out;
}

describe('redrive of an embedding run', { timeout: 240_000 }, () => {
  let h: Harness;
  let chroma: ChromaStore;
  before(async () => {
    const port = await freePort();
    const tag = uniqueId('er');
    h = await startHarness({
      emulator: { port, batchCompleteAfterS: 1, embeddingDim: 64, batchExpireRate: 1, batchPartialRate: 0.5 },
      env: {
        OPENAI_BASE_URL: `http://127.0.0.1:${port}/v1`,
        CHROMA_COLLECTION_PREFIX: `${tag}-`,
        EMBED_S3_PREFIX: `${tag}/`,
        EMBED_COMPACTOR_ID: `embed-compactor-${tag}`,
        EMBED_BATCH_MAX_REQUESTS: '150',
        EMBED_POLL_INITIAL_MS: '200',
        EMBED_POLL_MAX_MS: '500',
        EMBED_COMPACT_IDLE_MS: '500',
      },
      dataset: { merchants: 1, receiptsPerMerchant: 3, seed: 23 },
    });
    chroma = new ChromaStore({ url: h.cfg.chromaUrl, prefix: h.cfg.CHROMA_COLLECTION_PREFIX });
  });
  after(async () => {
    if (!h) return;
    await h.close();
    await chroma.deleteCollections().catch(() => undefined);
    const { objects } = createEmbeddingDeps(h.cfg);
    for (const key of await objects.list(h.cfg.EMBED_S3_PREFIX).catch(() => [])) await objects.delete(key);
  });

  test('the redrive submits exactly the FAILED words; every word ends embedded once', async () => {
    const runId = uniqueId('embed-');
    const first = await h.client.workflow.execute<typeof embedBackfill>('embedBackfill', {
      taskQueue: h.cfg.TASK_QUEUE_PIPELINE,
      workflowId: runId,
      args: [{ runId, kinds: ['WORD'], settings: { maxAttempts: 1 } }],
    });
    assert.ok(first.failed > 0 && first.succeeded > 0, JSON.stringify(first));
    const before = await wordsByStatus(h);
    const failedBefore = before
      .get('FAILED')!
      .map((w) => w.id)
      .sort();
    const embeddedBefore = new Map(before.get('SUCCESS')!.map((w) => [w.id, w.batch]));
    assert.equal(failedBefore.length, first.failed);

    h.emulator.updateSettings({ batchExpireRate: 0 });
    const { runId: redriveId, pipeline } = await startRedrive(h.cfg, h.client, { oldRunId: runId });
    assert.equal(pipeline, 'embed');
    const second = (await h.client.workflow.getHandle(redriveId).result()) as EmbeddingReport;
    assert.equal(second.status, 'COMPLETED');
    assert.equal(second.total, failedBefore.length, 'the redrive took on only the failed words');
    assert.equal(second.succeeded, failedBefore.length, JSON.stringify(second.failures));
    assert.equal(second.failed, 0);

    const afterRedrive = await wordsByStatus(h);
    assert.equal(afterRedrive.get('FAILED')!.length, 0);
    assert.equal(afterRedrive.get('PENDING')!.length, 0);
    assert.equal(afterRedrive.get('NOT_EMBEDDED')!.length, 0);
    const embedded = afterRedrive.get('SUCCESS')!;
    assert.equal(embedded.length, failedBefore.length + embeddedBefore.size);
    const byRedrive = embedded.filter((w) => w.batch?.startsWith(`${redriveId}/`)).map((w) => w.id);
    assert.deepEqual(byRedrive.sort(), failedBefore, 'the redrive embedded exactly the failed words');
    for (const w of embedded)
      if (embeddedBefore.has(w.id)) assert.equal(w.batch, embeddedBefore.get(w.id), `${w.id} not sent again`);
    const { embeddings } = createEmbeddingDeps(h.cfg);
    assert.equal(await embeddings.countByStatus('LINE', 'SUCCESS'), 0, 'lines were not asked for');
    assert.equal(await chroma.count('WORD'), embedded.length, 'every word in Chroma once');

    const { runs } = createStores(h.cfg);
    assert.equal((await runs.getRun(redriveId))?.redriveOf, runId);
    assert.deepEqual((await runs.getRun(runId))?.redrivenBy, [redriveId]);
  });
});
