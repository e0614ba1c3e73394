// End to end: the embedding pipeline on the real stack (Temporal, dynalite, s3rver, real Chroma)
// with the emulator's OpenAI Files + Batch API over real HTTP; expiry with partial output; one
// compactor however many ask; kill -9 of the worker while polling and while compacting; and a poll
// workflow that outlives a 20-hour batch on the time-skipping test server.
import { spawn } from 'node:child_process';
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Client, WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import type { History } from '@temporalio/common/lib/proto-utils';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { EmbeddingReport } from '../src/activities/embed';
import { loadConfig } from '../src/config';
import { embedSchedules, embedStatus, type EmbedStatus } from '../src/cli/embed';
import { createEmbeddingDeps, createStores } from '../src/deps';
import { lineIdOf, wordIdOf, type Receipt } from '../src/domain/receipt';
import { itemKeyOf } from '../src/stores/embeddings';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import {
  DEFAULT_EMBED_SETTINGS,
  decodeCustomId,
  deltaToNdjson,
  parseDeltaNdjson,
  type DeltaRecord,
} from '../src/domain/embedding';
import { embedText, cosineSimilarity } from '../dev/emulator/embeddings';
import { ChromaStore } from '../src/stores/chroma';
import { findTool } from '../dev/stack/tools';
import type {
  compactEmbeddings,
  embedBackfill,
  EmbedProgress,
  PollEmbeddingBatchResult,
} from '../src/workflows/embed';
import { embedHarnessEnv } from '../dev/harness/embed-harness';
import { freePort, startHarness, uniqueId, workflowBundle, type Harness } from '../dev/harness/pipeline';
import {
  KILLED_PIPELINE_WORKER_ENV,
  REPO_ROOT,
  killAllWorkerProcesses,
  spawnWorker,
  type WorkerProcess,
} from '../dev/harness/worker-process';

const EMBEDDING_DIM = 64;
/** Requests per batch: a 1 x 5 receipt dataset (~90 lines, ~260 words) makes 1 line batch and 2 word batches. */
const MAX_REQUESTS = 150;

interface EmbedHarness extends Harness {
  chroma: ChromaStore;
  lines: number;
  words: number;
}

/** A harness whose workers see the emulator's Batch API, its own Chroma collections, S3 prefix, compactor id. */
async function embedHarness(opts: {
  batchCompleteAfterS: number;
  emulator?: Record<string, number>;
  env?: Record<string, string>;
  inProcessWorkers?: boolean;
  seed?: number;
}): Promise<EmbedHarness> {
  const port = await freePort();
  const tag = uniqueId('e');
  const h = await startHarness({
    queues: opts.inProcessWorkers === false ? [] : ['pipeline'],
    emulator: {
      port,
      batchCompleteAfterS: opts.batchCompleteAfterS,
      embeddingDim: EMBEDDING_DIM,
      ...opts.emulator,
    },
    env: { ...embedHarnessEnv({ port, tag, maxRequestsPerBatch: MAX_REQUESTS }), ...opts.env },
    dataset: { merchants: 1, receiptsPerMerchant: 5, seed: opts.seed ?? 5 },
  });
  const receipts = h.dataset!.receipts;
  return Object.assign(h, {
    chroma: new ChromaStore({ url: h.cfg.chromaUrl, prefix: h.cfg.CHROMA_COLLECTION_PREFIX }),
    lines: receipts.reduce((n, r) => n + r.lines.length, 0),
    words: receipts.reduce((n, r) => n + r.lines.reduce((m, l) => m + l.words.length, 0), 0),
  });
}

/** Stops the workers and removes the Chroma collections and S3 objects the test wrote to the shared stack. */
async function closeEmbedHarness(h: EmbedHarness | undefined): Promise<void> {
  if (!h) return;
  await h.close();
  await h.chroma.deleteCollections().catch(() => undefined);
  const { objects } = createEmbeddingDeps(h.cfg);
  const prefix = h.cfg.EMBED_S3_PREFIX;
  if (prefix) for (const key of await objects.list(prefix).catch(() => [])) await objects.delete(key);
}

function startBackfill(
  h: Harness,
  input: Record<string, unknown> = {},
): Promise<WorkflowHandleWithFirstExecutionRunId<typeof embedBackfill>> {
  const runId = uniqueId('embed-');
  return h.client.workflow.start<typeof embedBackfill>('embedBackfill', {
    taskQueue: h.cfg.TASK_QUEUE_PIPELINE,
    workflowId: runId,
    args: [{ runId, ...input }],
  });
}

/** Polls `check` until it returns a value; fails naming `what` after `ms`. */
async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined>,
  ms = 120_000,
  everyMs = 25,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`gave up after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Waits until nothing is pending anywhere and the compactor has ended. */
async function settled(h: Harness, client: Client = h.client): Promise<EmbedStatus> {
  return waitFor(
    'embedding to settle (nothing pending, compactor ended)',
    async () => {
      const s = await embedStatus(h.cfg, client);
      const idle = s.compactor.status !== 'RUNNING';
      return s.pending === 0 && s.deltasPending === 0 && s.batchesOpen === 0 && idle ? s : undefined;
    },
    60_000,
    200,
  );
}

interface ExactlyOnce {
  items: number;
  batches: number;
  requestsSubmitted: number;
  deltas: number;
  deltaParts: number;
  chroma: number;
  providerBatches: number;
}

/**
 * Every line and word embedded exactly once: SUCCESS in DynamoDB, in exactly one applied delta (the
 * one of the batch recorded on the item), in Chroma; nothing pending or failed; the provider saw as
 * many batches as were recorded, and `resubmitted` extra requests at most.
 */
async function assertEmbeddedExactlyOnce(h: EmbedHarness, resubmitted: number): Promise<ExactlyOnce> {
  const s = await settled(h);
  const items = h.lines + h.words;
  assert.equal(s.byKind.lines.embedded, h.lines, JSON.stringify(s));
  assert.equal(s.byKind.words.embedded, h.words, JSON.stringify(s));
  assert.equal(s.embedded, items);
  assert.equal(s.pending, 0);
  assert.equal(s.failed, 0);
  assert.equal(s.notEmbedded, 0);
  assert.equal(s.chroma, s.embedded, 'Chroma count == embedded count');
  assert.equal(s.byKind.words.chroma, h.words);
  assert.equal(s.byKind.lines.chroma, h.lines);

  const deps = createEmbeddingDeps(h.cfg);
  const deltas = await deps.embeddings.listDeltas('APPLIED');
  assert.equal((await deps.embeddings.listDeltas('PENDING')).length, 0);
  const inDelta = new Map<string, string>();
  let parts = 0;
  for (const d of deltas) {
    const records = [];
    for (const key of d.parts) records.push(...parseDeltaNdjson((await deps.objects.getText(key)) ?? ''));
    parts += d.parts.length;
    assert.equal(records.length, d.records);
    for (const r of records) {
      assert.ok(!inDelta.has(r.id), `${r.id} is in two deltas: ${inDelta.get(r.id)} and ${d.batchKey}`);
      inDelta.set(r.id, d.batchKey);
    }
  }
  assert.equal(inDelta.size, items, 'every item in exactly one delta');
  for (const kind of ['LINE', 'WORD'] as const) {
    for (const item of await deps.embeddings.listByStatus(kind, 'SUCCESS')) {
      assert.equal(
        inDelta.get(item.id),
        item.batch,
        `${item.id}: embedded by the batch whose delta holds it`,
      );
    }
  }

  // Submissions: each request file names each item once; extra requests only for resubmissions.
  const runIds = new Set(deltas.map((d) => d.runId));
  let requestsSubmitted = 0;
  let batches = 0;
  const submittedIn = new Map<string, number>();
  for (const runId of runIds) {
    for (const b of await deps.embeddings.listRunBatches(runId)) {
      if (!b.inputKey || !b.openaiBatchId) continue;
      batches++;
      const ids = ((await deps.objects.getText(b.inputKey)) ?? '')
        .split('\n')
        .filter(Boolean)
        .map((l) => decodeCustomId((JSON.parse(l) as { custom_id: string }).custom_id).id);
      assert.equal(new Set(ids).size, ids.length, `${b.batchKey} names an item twice`);
      for (const id of ids) submittedIn.set(id, (submittedIn.get(id) ?? 0) + 1);
      requestsSubmitted += ids.length;
    }
  }
  assert.equal(requestsSubmitted, items + resubmitted, 'requests = items + resubmissions');
  const providerBatches = await countProviderBatches(h);
  assert.equal(providerBatches, batches, 'the provider got one batch per batch record, none twice');
  return {
    items,
    batches,
    requestsSubmitted,
    deltas: deltas.length,
    deltaParts: parts,
    chroma: s.chroma,
    providerBatches,
  };
}

/** Batches the emulator was asked to create (its Batch API listing, all pages). */
async function countProviderBatches(h: Harness): Promise<number> {
  let n = 0;
  let after: string | undefined;
  for (;;) {
    const res = await fetch(`${h.emulator.url}/v1/batches?limit=100${after ? `&after=${after}` : ''}`);
    const page = (await res.json()) as { data: Array<{ id: string }>; has_more: boolean };
    n += page.data.length;
    if (!page.has_more || page.data.length === 0) return n;
    after = page.data[page.data.length - 1]!.id;
  }
}

describe('embedding: full cycle on the real stack', { timeout: 180_000 }, () => {
  let h: EmbedHarness;
  let report: EmbeddingReport;
  before(async () => {
    h = await embedHarness({ batchCompleteAfterS: 1 });
    const handle = await startBackfill(h);
    report = await handle.result();
  });
  after(async () => closeEmbedHarness(h));

  test('every line and word is embedded once, Chroma count == embedded count, nothing pending', async () => {
    const items = h.lines + h.words;
    assert.equal(report.total, items);
    assert.equal(report.succeeded, items, JSON.stringify(report.failures));
    assert.equal(report.failed, 0);
    assert.equal(report.resubmitted, 0);
    assert.equal(report.batches, Math.ceil(h.lines / MAX_REQUESTS) + Math.ceil(h.words / MAX_REQUESTS));
    assert.deepEqual(report.batchStatuses, { completed: report.batches });
    assert.equal(report.index.chroma, items, 'the run ended with its vectors in Chroma');
    assert.equal(report.llm.calls, items);
    assert.ok(report.llm.promptTokens > 0);
    const figures = await assertEmbeddedExactlyOnce(h, 0);
    console.log(`full cycle figures: ${JSON.stringify({ ...figures, lines: h.lines, words: h.words })}`);
  });

  test('a word in Chroma carries the harmonizer record and the vector of its document', async () => {
    const deps = createEmbeddingDeps(h.cfg);
    const [word] = await deps.embeddings.listByStatus('WORD', 'SUCCESS');
    assert.ok(word);
    const stored = (await h.chroma.get('WORD', [word.id], { vectors: true })).get(word.id);
    assert.ok(stored?.vector, 'stored with its vector');
    assert.equal(stored.metadata.merchantId, word.merchantId);
    assert.equal(stored.metadata.receiptId, word.receiptId);
    assert.equal(stored.metadata.label, word.label ?? 'NONE');
    assert.match(stored.document, new RegExp(`<${word.text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}>`));
    // The vector is the provider's embedding of exactly the stored document.
    const expected = embedText(stored.document, EMBEDDING_DIM);
    assert.ok(cosineSimilarity(stored.vector, expected) > 0.999);
    // The harmonizer can query it: its nearest neighbour is itself (or a word with the same document).
    const [nearest] = await h.chroma.query('WORD', [stored.vector], { merchantId: word.merchantId }, 1);
    assert.equal(nearest?.[0]?.document, stored.document);
    assert.ok(nearest[0]!.similarity > 0.999);
  });

  test("the run's backfill, poll and compactor histories replay without a determinism violation", async () => {
    const ids = [report.runId, `embed-poll/${report.runId}/line-00000`, h.cfg.EMBED_COMPACTOR_ID];
    const histories = [];
    for (const workflowId of ids)
      histories.push({ workflowId, history: await h.client.workflow.getHandle(workflowId).fetchHistory() });
    let replayed = 0;
    for await (const r of Worker.runReplayHistories({ workflowBundle: await workflowBundle() }, histories)) {
      assert.equal(r.error, undefined, `${r.workflowId}: ${String(r.error)}`);
      replayed++;
    }
    assert.equal(replayed, ids.length);
  });

  test('`embed status --json` (the CLI) prints the same counts', async () => {
    const out = await runCli(h, ['embed', 'status', '--json']);
    const last = JSON.parse(out.trim().split('\n').at(-1)!) as EmbedStatus;
    assert.equal(last.embedded, h.lines + h.words);
    assert.equal(last.chroma, last.embedded);
    assert.equal(last.pending, 0);
    assert.equal(last.failed, 0);
  });

  test('a second backfill finds nothing to embed and submits nothing', async () => {
    const before = await countProviderBatches(h);
    const again = await (await startBackfill(h)).result();
    assert.equal(again.batches, 0);
    assert.equal(again.total, 0);
    assert.equal(await countProviderBatches(h), before);
  });

  test('an item whose record Chroma already holds (e.g. written by the harmonizer) is not sent again', async () => {
    const deps = createEmbeddingDeps(h.cfg);
    const [word] = await deps.embeddings.listByStatus('WORD', 'SUCCESS');
    assert.ok(word);
    await createStores(h.cfg).ddb.send(
      new UpdateCommand({
        TableName: h.cfg.DYNAMODB_TABLE,
        Key: itemKeyOf('WORD', word.id),
        UpdateExpression: 'SET embeddingStatus = :ne, GSI2PK = :pk REMOVE embeddingBatch',
        ExpressionAttributeValues: { ':ne': 'NOT_EMBEDDED', ':pk': 'EMBED#WORD#NOT_EMBEDDED' },
      }),
    );
    const providerBatches = await countProviderBatches(h);
    const again = await (await startBackfill(h)).result();
    assert.equal(again.reusedFromChroma, 1);
    assert.equal(again.succeeded, 1);
    assert.equal(again.batches, 0);
    assert.equal(await countProviderBatches(h), providerBatches, 'nothing sent to the provider');
    const s = await embedStatus(h.cfg);
    assert.equal(s.embedded, h.lines + h.words);
    assert.equal(s.chroma, s.embedded);
  });

  test('the schedules: a scheduled backfill embeds a new receipt, the compaction schedule runs', async () => {
    const receipt = newReceipt('sched-r-1', 'm-0001', ['FRESH BASIL 2.99', 'TOTAL 2.99']);
    await createStores(h.cfg).receipts.putReceipts([receipt]);
    const newItems = receipt.lines.length + receipt.lines.reduce((n, l) => n + l.words.length, 0);
    const ids = {
      backfill: `${h.cfg.EMBED_COMPACTOR_ID}-backfill`,
      compaction: `${h.cfg.EMBED_COMPACTOR_ID}-compaction`,
    };
    const handles = [];
    for (const opts of embedSchedules(h.cfg, '1h', '15m', ids))
      handles.push(await h.client.schedule.create(opts));
    try {
      for (const handle of handles) {
        await handle.trigger();
        const started = await waitFor(`${handle.scheduleId} to start its workflow`, async () => {
          const d = await handle.describe();
          return d.info.recentActions[0]?.action.workflow;
        });
        await h.client.workflow.getHandle(started.workflowId, started.firstExecutionRunId).result();
      }
      // The scheduled backfill does not wait: its pollers and the compactor finish the job.
      const s = await waitFor('the new receipt embedded and in Chroma', async () => {
        const st = await settled(h);
        return st.embedded === h.lines + h.words + newItems && st.chroma === st.embedded ? st : undefined;
      });
      assert.equal(s.failed, 0);
      const found = await h.chroma.get('WORD', [receipt.lines[0]!.words[1]!.wordId]);
      assert.equal(found.size, 1, 'the new word is in Chroma, where the harmonizer finds it');
    } finally {
      for (const handle of handles) await handle.delete();
    }
  });
});

function newReceipt(receiptId: string, merchantId: string, lineTexts: string[]): Receipt {
  return {
    receiptId,
    merchantId,
    merchantName: 'TEST MARKET',
    purchasedAt: '2026-01-31',
    lines: lineTexts.map((text, li) => ({
      lineId: lineIdOf(receiptId, li),
      lineIndex: li,
      text,
      words: text
        .split(' ')
        .map((w, wi) => ({ wordId: wordIdOf(receiptId, li, wi), lineIndex: li, wordIndex: wi, text: w })),
    })),
  };
}

function runCli(h: Harness, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const env: NodeJS.ProcessEnv = { ...process.env, ...h.env };
    delete env.NODE_TEST_CONTEXT;
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/client.ts', ...args], {
      cwd: REPO_ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.once('exit', (code) =>
      code === 0 ? resolve(out) : reject(new Error(`cli ${args.join(' ')} -> ${code}\n${out}\n${err}`)),
    );
  });
}

/** Each run of a workflow's continue-as-new chain: its run id, the phase its carry started in, its history. */
async function runChain(h: Harness, workflowId: string, firstRunId: string) {
  const runs: Array<{ runId: string; carriedPhase?: string; events: number; history: History }> = [];
  for (let runId: string | undefined = firstRunId; runId;) {
    const history = await h.client.workflow.getHandle(workflowId, runId).fetchHistory();
    const started = history.events?.[0]?.workflowExecutionStartedEventAttributes;
    const [arg] = (started?.input?.payloads ?? []).map((p) =>
      defaultPayloadConverter.fromPayload<{ carry?: { phase?: string } }>(p as Payload),
    );
    runs.push({ runId, carriedPhase: arg?.carry?.phase, events: history.events?.length ?? 0, history });
    const next = history.events?.find((e) => e.workflowExecutionContinuedAsNewEventAttributes);
    runId = next?.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId ?? undefined;
  }
  return runs;
}

describe('embedding: a long wait continues as new (issue 13: history bounded)', { timeout: 180_000 }, () => {
  let h: EmbedHarness;
  after(async () => closeEmbedHarness(h));

  test('waiting for its pollers and its deltas, the backfill continues as new and still embeds every item once', async () => {
    h = await embedHarness({
      // Batches that outlast the submit phase on a busy machine, so the backfill waits for its pollers.
      batchCompleteAfterS: 6,
      // Small upserts: the last delta takes a few looks of the waiting backfill to reach Chroma.
      env: { EMBED_COMPACT_CHUNK_SIZE: '2', EMBED_DELTA_PART_RECORDS: '50' },
      seed: 21,
    });
    // One wake-up per run: every reconcile (300 ms, batches take 6 s) and every look at the deltas
    // ends its run with continue-as-new.
    const handle = await startBackfill(h, { settings: { waitsPerRun: 1, reconcileMs: 300 } });
    const report = await handle.result();
    const items = h.lines + h.words;
    assert.equal(report.succeeded, items, JSON.stringify(report.failures));
    assert.equal(report.total, items);
    assert.equal(report.failed, 0);
    assert.equal(report.resubmitted, 0);
    assert.equal(report.rounds, 1);
    assert.equal(report.index.chroma, items, 'the run ended with its vectors in Chroma');

    const runs = await runChain(h, report.runId, handle.firstExecutionRunId);
    const carried = runs.map((r) => r.carriedPhase).filter((p) => p !== undefined);
    assert.ok(
      carried.includes('waiting'),
      `continued as new while waiting for pollers: ${carried.join(',')}`,
    );
    assert.ok(
      carried.includes('compacting'),
      `continued as new while waiting for deltas: ${carried.join(',')}`,
    );
    // Every run after the first only waits: its history stays small however long the wait.
    const waitRuns = runs.slice(1).map((r) => r.events);
    assert.ok(Math.max(...waitRuns) < 100, `events per waiting run: ${waitRuns.join(',')}`);
    let replayed = 0;
    const histories = runs.map((r) => ({ workflowId: report.runId, history: r.history }));
    for await (const r of Worker.runReplayHistories({ workflowBundle: await workflowBundle() }, histories)) {
      assert.equal(r.error, undefined, `${r.workflowId}: ${String(r.error)}`);
      replayed++;
    }
    assert.equal(replayed, runs.length);
    const figures = await assertEmbeddedExactlyOnce(h, 0);
    console.log(
      `wait continue-as-new figures: ${JSON.stringify({ ...figures, runs: runs.length, carried, eventsPerRun: runs.map((r) => r.events) })}`,
    );
  });
});

describe('embedding: batches expire with partial output', { timeout: 180_000 }, () => {
  let h: EmbedHarness;
  after(async () => closeEmbedHarness(h));

  test('the missing items are resubmitted and all end embedded', async () => {
    h = await embedHarness({
      batchCompleteAfterS: 1,
      emulator: { batchExpireRate: 1, batchPartialRate: 0.5 },
      env: { EMBED_MAX_ATTEMPTS: '5' },
      seed: 8,
    });
    const handle = await startBackfill(h);
    // Batches created until the first expiry is seen expire with half their output; later ones complete.
    const atFlip = await waitFor('the first expired batch settled', async () => {
      const p = await handle.query<EmbedProgress>('progress').catch(() => undefined);
      return p && p.released > 0 ? p : undefined;
    });
    h.emulator.updateSettings({ batchExpireRate: 0 });
    const report = await handle.result();
    const items = h.lines + h.words;
    assert.equal(report.succeeded, items, JSON.stringify(report.failures));
    assert.equal(report.failed, 0);
    assert.ok((report.batchStatuses.expired ?? 0) >= 1, JSON.stringify(report.batchStatuses));
    assert.ok(report.resubmitted > 0, 'items missing after the expiry were resubmitted');
    assert.ok(report.rounds >= 2);
    const deps = createEmbeddingDeps(h.cfg);
    const words = await deps.embeddings.listByStatus('WORD', 'SUCCESS');
    const lines = await deps.embeddings.listByStatus('LINE', 'SUCCESS');
    const failedAttempts = [...words, ...lines].reduce((n, i) => n + i.attempts, 0);
    assert.equal(failedAttempts, report.resubmitted, 'each resubmission follows one counted failed attempt');
    const figures = await assertEmbeddedExactlyOnce(h, report.resubmitted);
    console.log(
      `expiry figures: ${JSON.stringify({ ...figures, releasedAtFlip: atFlip.released, expiredBatches: report.batchStatuses.expired, completedBatches: report.batchStatuses.completed, resubmitted: report.resubmitted, rounds: report.rounds })}`,
    );
  });
});

describe('embedding: cancelled batches and items that keep failing', { timeout: 180_000 }, () => {
  let h: EmbedHarness;
  before(async () => {
    h = await embedHarness({ batchCompleteAfterS: 3, seed: 21 });
  });
  after(async () => closeEmbedHarness(h));

  test('a batch cancelled at the provider: its outputs are kept, the rest resubmitted, all end embedded', async () => {
    const handle = await startBackfill(h, { kinds: ['LINE'] });
    const batchId = await waitFor('the line batch at the provider', async () => {
      const res = await fetch(`${h.emulator.url}/v1/batches?limit=1`);
      const page = (await res.json()) as { data: Array<{ id: string; status: string }> };
      return page.data[0]?.status === 'in_progress' ? page.data[0].id : undefined;
    });
    await new Promise((r) => setTimeout(r, 600)); // let it run part of its requests
    const cancel = await fetch(`${h.emulator.url}/v1/batches/${batchId}/cancel`, { method: 'POST' });
    assert.equal(cancel.status, 200);
    const report = await handle.result();
    assert.equal(report.batchStatuses.cancelled, 1, JSON.stringify(report.batchStatuses));
    assert.equal(report.succeeded, h.lines, JSON.stringify(report.failures));
    assert.ok(report.resubmitted > 0 && report.resubmitted < h.lines, `${report.resubmitted} resubmitted`);
    const s = await settled(h);
    assert.equal(s.byKind.lines.embedded, h.lines);
    assert.equal(s.byKind.lines.chroma, h.lines);
    assert.equal(s.byKind.words.embedded, 0, 'only lines were asked for');
    console.log(
      `cancel figures: ${JSON.stringify({ lines: h.lines, keptFromCancelled: h.lines - report.resubmitted, resubmitted: report.resubmitted, batches: report.batches })}`,
    );
  });

  test('after EMBED_MAX_ATTEMPTS failed batches an item is FAILED with its reason, counted, not retried', async () => {
    h.emulator.updateSettings({ batchExpireRate: 1, batchPartialRate: 0.5, batchCompleteAfterS: 1 });
    const words = { kinds: ['WORD'], settings: { maxAttempts: 1 } };
    const report = await (await startBackfill(h, words)).result();
    assert.equal(report.succeeded + report.failed, h.words);
    assert.ok(report.failed > 0 && report.succeeded > 0, JSON.stringify(report));
    assert.equal(report.resubmitted, 0, 'one attempt allowed: nothing resubmitted');
    assert.ok(report.failures.length > 0);
    for (const f of report.failures) assert.match(f.reason, /batch_expired/);
    const s = await settled(h);
    assert.equal(s.byKind.words.failed, report.failed);
    assert.equal(s.byKind.words.chroma, report.succeeded);
    assert.equal(s.pending, 0);
    const again = await (await startBackfill(h, words)).result();
    assert.equal(again.batches, 0, 'a FAILED item is not picked up again');
    console.log(
      `give-up figures: ${JSON.stringify({ words: h.words, embedded: report.succeeded, failed: report.failed })}`,
    );
  });
});

describe('embedding: duplicate and concurrent compaction requests', { timeout: 120_000 }, () => {
  let h: EmbedHarness;
  after(async () => closeEmbedHarness(h));

  test('one compactor runs at a time and every delta is applied once', async () => {
    h = await embedHarness({
      batchCompleteAfterS: 1,
      env: { EMBED_COMPACT_CHUNK_SIZE: '20', EMBED_SNAPSHOT: 'true', EMBED_DELETE_APPLIED_DELTAS: 'true' },
    });
    const deps = createEmbeddingDeps(h.cfg);
    // Three pending deltas of synthetic words, as pollers would leave them.
    const DELTAS = 3;
    const PER_DELTA = 60;
    for (let d = 0; d < DELTAS; d++) {
      const batchKey = `dup-run/word-${String(d).padStart(5, '0')}`;
      const records: DeltaRecord[] = Array.from({ length: PER_DELTA }, (_, i) => ({
        kind: 'WORD',
        id: `dup-${d}-${i}`,
        vector: Array.from(embedText(`word ${d} ${i}`, EMBEDDING_DIM)),
        document: `<w${d}-${i}>`,
        metadata: { merchantId: 'm-dup', label: 'NONE' },
      }));
      const s3Key = `${h.cfg.EMBED_S3_PREFIX}deltas/${batchKey}.ndjson`;
      await deps.objects.putText(s3Key, deltaToNdjson(records));
      await deps.embeddings.putDelta({
        batchKey,
        runId: 'dup-run',
        kind: 'WORD',
        parts: [s3Key],
        records: PER_DELTA,
        state: 'PENDING',
        createdAt: Date.now() + d,
      });
    }
    const compactorId = h.cfg.EMBED_COMPACTOR_ID;
    // Ten signal-with-start calls at once (what pollers do) and three scheduled triggers.
    const signals = Array.from({ length: 10 }, (_, i) =>
      h.client.workflow.signalWithStart<typeof compactEmbeddings, [{ reason?: string }?]>(
        'compactEmbeddings',
        {
          workflowId: compactorId,
          taskQueue: h.cfg.TASK_QUEUE_PIPELINE,
          args: [{}],
          signal: 'compactRequested',
          signalArgs: [{ reason: `test ${i}` }],
        },
      ),
    );
    const triggers = Array.from({ length: 3 }, (_, i) =>
      h.client.workflow.execute('triggerEmbeddingCompaction', {
        taskQueue: h.cfg.TASK_QUEUE_PIPELINE,
        workflowId: `${compactorId}-trigger-${i}`,
        args: [{}],
      }),
    );
    const handles = await Promise.all(signals);
    await Promise.all(triggers);
    const runIdsSignalled = new Set(handles.map((x) => x.signaledRunId));
    await settled(h);

    const executions: Array<{ runId: string; start: number; close: number }> = [];
    for await (const wf of h.client.workflow.list({ query: `WorkflowId = '${compactorId}'` })) {
      executions.push({
        runId: wf.runId,
        start: wf.startTime.getTime(),
        close: wf.closeTime?.getTime() ?? Number.POSITIVE_INFINITY,
      });
    }
    executions.sort((a, b) => a.start - b.start);
    assert.ok(executions.length >= 1);
    for (let i = 1; i < executions.length; i++) {
      assert.ok(
        executions[i - 1]!.close <= executions[i]!.start,
        `compactor runs overlap: ${JSON.stringify(executions)}`,
      );
    }
    let applied = 0;
    let records = 0;
    for (const e of executions) {
      const r = await h.client.workflow.getHandle<typeof compactEmbeddings>(compactorId, e.runId).result();
      applied += r.deltasApplied;
      records += r.records;
    }
    assert.equal(applied, DELTAS, 'each delta applied by exactly one compactor run');
    assert.equal(records, DELTAS * PER_DELTA);
    assert.equal(await h.chroma.count('WORD'), DELTAS * PER_DELTA);
    const appliedDeltas = await deps.embeddings.listDeltas('APPLIED');
    assert.equal(appliedDeltas.length, DELTAS);
    // EMBED_DELETE_APPLIED_DELTAS: the applied delta objects are gone; EMBED_SNAPSHOT: the collections are in S3.
    for (const d of appliedDeltas)
      for (const key of d.parts) assert.equal(await deps.objects.getText(key), undefined);
    const latest = JSON.parse(
      (await deps.objects.getText(`${h.cfg.EMBED_S3_PREFIX}snapshots/latest.json`)) ?? '{}',
    ) as {
      records: number;
      files: Array<{ key: string; records: number }>;
    };
    assert.equal(latest.records, DELTAS * PER_DELTA);
    const snapshotIds = new Set<string>();
    for (const f of latest.files)
      for (const r of parseDeltaNdjson((await deps.objects.getText(f.key)) ?? '')) {
        assert.equal(r.vector.length, EMBEDDING_DIM);
        snapshotIds.add(r.id);
      }
    assert.equal(snapshotIds.size, DELTAS * PER_DELTA);
    console.log(
      `compaction figures: ${JSON.stringify({ requests: signals.length + triggers.length, compactorRuns: executions.length, runIdsSignalled: runIdsSignalled.size, deltasApplied: applied, chroma: records, overlaps: 0 })}`,
    );
  });
});

describe('embedding: kill -9 of the worker while polling and while compacting', { timeout: 300_000 }, () => {
  let h: EmbedHarness;
  const workers: WorkerProcess[] = [];
  after(async () => {
    killAllWorkerProcesses();
    await Promise.all(workers.map((w) => w.exited));
    await closeEmbedHarness(h);
  });

  test('everything still ends embedded exactly once', async () => {
    h = await embedHarness({
      // Long enough that every batch is submitted and polled before the first settles, on a busy machine
      // (5 s was not: beside the pool's other file, a batch settled while the last was being submitted).
      batchCompleteAfterS: 12,
      inProcessWorkers: false,
      // Small upserts make the compaction long enough to be caught in the middle; deltas in parts.
      env: { EMBED_COMPACT_CHUNK_SIZE: '4', EMBED_DELTA_PART_RECORDS: '50', ...KILLED_PIPELINE_WORKER_ENV },
      seed: 13,
    });
    const spawnPipeline = async () => {
      const w = spawnWorker(h.env, ['pipeline']);
      workers.push(w);
      await w.ready;
      return w;
    };
    const first = await spawnPipeline();
    const handle = await startBackfill(h);
    const total = h.lines + h.words;
    await waitFor('every batch submitted and being polled, none settled', async () => {
      const p = await handle.query<EmbedProgress>('progress').catch(() => undefined);
      if (!p || p.phase !== 'waiting') return undefined;
      const s = await embedStatus(h.cfg);
      assert.ok(
        s.embedded === 0,
        `a batch settled before the kill: make the batches longer (${JSON.stringify(s)})`,
      );
      return s.pending === total ? s : undefined;
    });
    process.kill(first.pid, 'SIGKILL');
    assert.equal((await first.exited).signal, 'SIGKILL');
    const atFirstKill = await embedStatus(h.cfg);
    assert.ok(
      atFirstKill.pending > 0 && atFirstKill.chroma === 0,
      `killed while polling: ${JSON.stringify(atFirstKill)}`,
    );

    const second = await spawnPipeline();
    const atSecondKill = await waitFor(
      'a compaction in progress',
      async () => {
        const [words, lines] = await Promise.all([h.chroma.count('WORD'), h.chroma.count('LINE')]);
        const inChroma = words + lines;
        if (inChroma > 0 && inChroma < total) {
          process.kill(second.pid, 'SIGKILL');
          return { inChroma };
        }
        assert.ok(inChroma < total, 'the compaction ended before it could be interrupted: make it longer');
        return undefined;
      },
      120_000,
      10,
    );
    assert.equal((await second.exited).signal, 'SIGKILL');

    await spawnPipeline();
    const report = await handle.result();
    assert.equal(report.succeeded, total, JSON.stringify(report.failures));
    assert.equal(report.resubmitted, 0, 'nothing was resubmitted: no batch was lost or repeated');
    const figures = await assertEmbeddedExactlyOnce(h, 0);
    console.log(
      `kill -9 figures: ${JSON.stringify({ ...figures, pendingAtFirstKill: atFirstKill.pending, chromaAtSecondKill: atSecondKill.inChroma, duplicates: 0 })}`,
    );
  });
});

describe('embedding: poll workflows on the time-skipping server', { timeout: 120_000 }, () => {
  let env: TestWorkflowEnvironment;
  before(async () => {
    const server = findTool(loadConfig(), 'temporal-test-server');
    assert.ok(server, 'temporal-test-server is installed (npm run tools)');
    env = await TestWorkflowEnvironment.createTimeSkipping({
      server: { executable: { type: 'existing-path', path: server } },
    });
  });
  after(async () => env?.teardown());

  test('a batch that fails validation, or that the provider does not know, releases its items with the reason', async () => {
    const released: Array<{ batchKey: string; reason: string; finalStatus: string }> = [];
    const taskQueue = 'failed-batch';
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowBundle: await workflowBundle(),
      activities: {
        async checkEmbeddingBatch(input: { batchKey: string }) {
          if (input.batchKey.endsWith('00404'))
            throw ApplicationFailure.nonRetryable('OpenAI answered 404: No such Batch', 'LlmFatal');
          return {
            status: 'failed',
            requestCounts: { total: 0, completed: 0, failed: 0 },
            errors: ['invalid_json_line (line 3): not JSON'],
          };
        },
        async processEmbeddingBatch() {
          throw new Error('a failed batch has no results to process');
        },
        async releaseEmbeddingBatch(input: { batchKey: string; reason: string; finalStatus: string }) {
          released.push(input);
          return {
            batchKey: input.batchKey,
            kind: 'WORD',
            finalStatus: input.finalStatus,
            embedded: 0,
            released: 7,
            failed: 0,
            promptTokens: 0,
            turnaroundMs: 0,
          };
        },
        async requestEmbeddingCompaction() {
          throw new Error('nothing embedded: no compaction');
        },
      },
    });
    const run = (batchKey: string) =>
      env.client.workflow.execute<(i: unknown) => Promise<PollEmbeddingBatchResult>>('pollEmbeddingBatch', {
        taskQueue,
        workflowId: `embed-poll/${batchKey}`,
        args: [{ batchKey, settings: DEFAULT_EMBED_SETTINGS }],
      });
    // One at a time: concurrent waits on the time-skipping server unbalance its time-skipping lock.
    const [failed, unknown] = await worker.runUntil(async () => [
      await run('r/word-00001'),
      await run('r/word-00404'),
    ]);
    assert.equal(failed.finalStatus, 'failed');
    assert.equal(failed.released, 7);
    assert.equal(unknown.finalStatus, 'unknown');
    assert.deepEqual(released.map((r) => r.batchKey).sort(), ['r/word-00001', 'r/word-00404']);
    assert.match(
      released.find((r) => r.batchKey === 'r/word-00001')!.reason,
      /batch failed: invalid_json_line \(line 3\)/,
    );
    assert.match(released.find((r) => r.batchKey === 'r/word-00404')!.reason, /cannot be checked: .*404/);
  });

  test('durable timers back off to 10 min, continue as new, and settle a 20-hour batch when it completes', async () => {
    const BATCH_HOURS = 20;
    let submittedAt: number | undefined;
    let checks = 0;
    const outcome = {
      batchKey: 'long-run/word-00000',
      kind: 'WORD' as const,
      finalStatus: 'completed',
      embedded: 42,
      released: 0,
      failed: 0,
      promptTokens: 100,
      turnaroundMs: BATCH_HOURS * 3600_000,
    };
    let processed = 0;
    let compactionRequests = 0;
    const taskQueue = 'long-poll';
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowBundle: await workflowBundle(),
      activities: {
        // The batch's status follows the server's (skipped) clock: done 20 hours after the first poll.
        async checkEmbeddingBatch() {
          checks++;
          const now = Context.current().info.scheduledTimestampMs;
          submittedAt ??= now;
          const done = now - submittedAt >= BATCH_HOURS * 3600_000;
          return {
            status: done ? 'completed' : 'in_progress',
            requestCounts: { total: 42, completed: done ? 42 : 0, failed: 0 },
            errors: [],
          };
        },
        async processEmbeddingBatch() {
          processed++;
          return outcome;
        },
        async releaseEmbeddingBatch() {
          throw new Error('a batch that completes is never released');
        },
        async requestEmbeddingCompaction() {
          compactionRequests++;
          return { runId: 'r' };
        },
      },
    });
    const result = await worker.runUntil(
      env.client.workflow.execute<(i: unknown) => Promise<PollEmbeddingBatchResult>>('pollEmbeddingBatch', {
        taskQueue,
        workflowId: 'embed-poll/long-run/word-00000',
        args: [{ batchKey: outcome.batchKey, settings: DEFAULT_EMBED_SETTINGS }],
      }),
    );
    const hours = (result.finishedAt - result.startedAt) / 3600_000;
    // 30 s, 1, 2, 4, 8 min, then every 10 min: about 6 + (20 h - 15.5 min) / 10 min polls.
    const expectedPolls = 5 + Math.ceil((BATCH_HOURS * 3600 - 930) / 600) + 1;
    assert.ok(hours >= BATCH_HOURS && hours < BATCH_HOURS + 0.25, `workflow time ${hours} h`);
    assert.ok(
      Math.abs(result.polls - expectedPolls) <= 2,
      `${result.polls} polls, expected about ${expectedPolls}`,
    );
    assert.equal(result.polls, checks);
    assert.ok(result.runs >= 2, `continued as new (${result.runs} runs) to bound its history`);
    assert.equal(result.embedded, 42);
    assert.equal(processed, 1);
    assert.equal(compactionRequests, 1);
    console.log(
      `time-skipping figures: ${JSON.stringify({ hours: Math.round(hours * 100) / 100, polls: result.polls, runs: result.runs })}`,
    );
  });
});
