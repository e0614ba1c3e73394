// Two attempts of one batch's result processing at once (a retry started while the timed-out attempt
// still runs), on the real stores (dynalite, s3rver): each item moves once, and each attempt's
// outcome counts every item, so whichever attempt records the batch's outcome reports it whole.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { settleItems } from '../src/activities/embed/settle-items';
import { createEmbeddingDeps } from '../src/deps';
import { batchKeyOf, requestLine } from '../src/domain/embedding';
import type { BatchRecord } from '../src/stores/embeddings';
import { startHarness, uniqueId, type Harness } from '../dev/harness/pipeline';

describe('embedding: two attempts settle one batch at once', { timeout: 120_000 }, () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ queues: [], dataset: { merchants: 1, receiptsPerMerchant: 2, seed: 8 } });
  });
  after(async () => h?.close());

  /** Claims every word of the dataset for one batch and writes its request file, as a submit does. */
  async function pendingBatch(): Promise<{ rec: BatchRecord; ids: string[] }> {
    const deps = createEmbeddingDeps(h.cfg);
    const runId = uniqueId('settle-');
    const batchKey = batchKeyOf(runId, 'WORD', 0);
    const ids = h.dataset!.receipts.flatMap((r) => r.lines.flatMap((l) => l.words.map((w) => w.wordId)));
    for (const id of ids) assert.ok(await deps.embeddings.claim('WORD', id, batchKey), `${id} claimed`);
    const inputKey = `test/${runId}/input.ndjson`;
    const body = ids.map((id) => requestLine('WORD', id, 'text', 'm') + '\n').join('');
    await deps.objects.putText(inputKey, body);
    const rec: BatchRecord = {
      batchKey,
      runId,
      kind: 'WORD',
      seq: 0,
      state: 'SUBMITTED',
      createdAt: 0,
      inputKey,
    };
    return { rec, ids };
  }

  test('every item embedded once, both attempts count them all', async () => {
    const deps = createEmbeddingDeps(h.cfg);
    const { rec, ids } = await pendingBatch();
    // Half the items have a vector, half are released (missing from the output).
    const vectorsById = new Set(ids.filter((_, i) => i % 2 === 0));
    const settle = () =>
      settleItems(deps, rec, {
        vectorsById,
        reasonFor: () => 'missing',
        maxAttempts: 3,
        heartbeat: () => {},
      });
    const [a, b] = await Promise.all([settle(), settle()]);
    const expected = { embedded: vectorsById.size, released: ids.length - vectorsById.size, failed: 0 };
    assert.deepEqual(a, expected);
    assert.deepEqual(b, expected);
    const items = await deps.embeddings.getItems('WORD', ids);
    for (const id of ids) {
      const item = items.get(id)!;
      assert.equal(item.status, vectorsById.has(id) ? 'SUCCESS' : 'NOT_EMBEDDED', id);
      if (!vectorsById.has(id)) assert.equal(item.attempts, 1, `${id} released once`);
    }
  });
});
