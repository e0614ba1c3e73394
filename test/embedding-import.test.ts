// End to end on the real stack: the embedding pipeline over receipts imported in the seed project's
// LayoutLM format (lines rebuilt from boxes): every imported line and word ends embedded, once, in
// Chroma, and a word is embedded in its line's context (the seed's word text: neighbours on the line).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { EmbeddingReport } from '../src/activities/embed';
import { embedStatus } from '../src/cli/embed';
import { createEmbeddingDeps, createStores } from '../src/deps';
import { wordEmbeddingText } from '../src/domain/embedding-text';
import { parseImport } from '../src/domain/import';
import { ChromaStore } from '../src/stores/chroma';
import { embedHarnessEnv } from '../dev/harness/embed-harness';
import { freePort, startHarness, uniqueId, type Harness } from '../dev/harness/pipeline';

const FIXTURE = path.join(__dirname, 'fixtures', 'seed-formats', 'layoutlm-one-merchant.json');

describe('embedding of imported receipts (layoutlm, one merchant)', { timeout: 5 * 60_000 }, () => {
  const imported = parseImport(fs.readFileSync(FIXTURE, 'utf8'), 'layoutlm');
  const lines = imported.receipts.flatMap((r) => r.lines);
  const words = lines.flatMap((l) => l.words);
  let h: Harness;
  let chroma: ChromaStore;
  let report: EmbeddingReport;

  before(async () => {
    const port = await freePort();
    const tag = uniqueId('ei');
    h = await startHarness({
      queues: ['pipeline'],
      emulator: { port, batchCompleteAfterS: 1, embeddingDim: 64 },
      env: embedHarnessEnv({ port, tag }),
    });
    chroma = new ChromaStore({ url: h.cfg.chromaUrl, prefix: h.cfg.CHROMA_COLLECTION_PREFIX });
    const { receipts } = createStores(h.cfg);
    await receipts.putMerchants(imported.merchants);
    await receipts.putReceipts(imported.receipts);
    const runId = uniqueId('embed-import-');
    report = (await h.client.workflow.execute('embedBackfill', {
      taskQueue: h.cfg.TASK_QUEUE_PIPELINE,
      workflowId: runId,
      args: [{ runId }],
    })) as EmbeddingReport;
  });
  after(async () => {
    await h?.close();
    await chroma?.deleteCollections().catch(() => undefined);
    if (!h) return;
    const { objects } = createEmbeddingDeps(h.cfg);
    for (const key of await objects.list(h.cfg.EMBED_S3_PREFIX).catch(() => [])) await objects.delete(key);
  });

  test('every imported line and word is embedded once and ends in Chroma', async () => {
    assert.ok(lines.length > 0 && words.length > lines.length, 'the fixture has lines of words');
    assert.equal(report.total, lines.length + words.length);
    assert.equal(report.succeeded, report.total, JSON.stringify(report.failures));
    assert.equal(report.failed, 0);
    let status = await embedStatus(h.cfg, h.client);
    for (let i = 0; i < 300 && (status.pending > 0 || status.deltasPending > 0); i++) {
      await new Promise((r) => setTimeout(r, 200));
      status = await embedStatus(h.cfg, h.client);
    }
    assert.deepEqual(
      [status.byKind.lines.chroma, status.byKind.words.chroma],
      [lines.length, words.length],
      JSON.stringify(status),
    );
  });

  test("a word's document is its text in its line's context (the seed's neighbours on the line)", async () => {
    const line = lines.find((l) => l.words.length >= 3)!;
    const word = line.words[1]!;
    const stored = await chroma.get('WORD', [word.wordId]);
    assert.equal(stored.get(word.wordId)?.document, wordEmbeddingText(word.text, line.text, word.wordIndex));
  });
});
