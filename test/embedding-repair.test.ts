// Issue 13, lost embeddings, on the real stack (Temporal, dynalite, s3rver, Chroma, the emulator's
// Batch API): a delta that fails for a whole Chroma outage is redriven and its items never say
// SUCCESS meanwhile; results that fail to process during an S3 outage are re-read from the output
// file, not paid again; a poll workflow that dies leaves no backfill waiting; PENDING items a dead
// run left behind are swept and embedded.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { WorkflowHandle } from '@temporalio/client';
import { embedStatus, type EmbedStatus } from '../src/cli/embed';
import { loadConfig, type AppConfig } from '../src/config';
import { createEmbeddingDeps } from '../src/deps';
import { batchKeyOf, requestLine } from '../src/domain/embedding';
import { ChromaStore } from '../src/stores/chroma';
import { startFaultProxy, type FaultProxy } from '../dev/stack/fault-proxy';
import type { embedBackfill } from '../src/workflows/embed';
import { embedHarnessEnv } from '../dev/harness/embed-harness';
import { freePort, startHarness, uniqueId, type Harness } from '../dev/harness/pipeline';

const MAX_REQUESTS = 150;
const RUN_DEADLINE_MS = 150_000;

interface RepairHarness extends Harness {
  /** Config that talks to the stack directly (checks bypass any fault proxy). */
  direct: AppConfig;
  items: number;
}

async function repairHarness(opts: {
  batchCompleteAfterS: number;
  env?: Record<string, string>;
}): Promise<RepairHarness> {
  const port = await freePort();
  const tag = uniqueId('r');
  const h = await startHarness({
    queues: ['pipeline'],
    emulator: { port, batchCompleteAfterS: opts.batchCompleteAfterS, embeddingDim: 64 },
    env: {
      ...embedHarnessEnv({ port, tag, maxRequestsPerBatch: MAX_REQUESTS, reconcileMs: 1000 }),
      ...opts.env,
    },
    dataset: { merchants: 1, receiptsPerMerchant: 5, seed: 5 },
  });
  const stack = loadConfig(process.env);
  const { CHROMA_URL: _c, S3_ENDPOINT: _s, ...rest } = h.env;
  const direct = loadConfig({
    ...process.env,
    ...rest,
    CHROMA_URL: stack.chromaUrl,
    S3_ENDPOINT: stack.s3Endpoint,
  });
  const items = h.dataset!.receipts.reduce(
    (n, r) => n + r.lines.length + r.lines.reduce((m, l) => m + l.words.length, 0),
    0,
  );
  return Object.assign(h, { direct, items });
}

async function closeRepairHarness(h: RepairHarness | undefined): Promise<void> {
  if (!h) return;
  await h.close();
  await new ChromaStore({ url: h.direct.chromaUrl, prefix: h.direct.CHROMA_COLLECTION_PREFIX })
    .deleteCollections()
    .catch(() => undefined);
  const { objects } = createEmbeddingDeps(h.direct);
  const prefix = h.direct.EMBED_S3_PREFIX;
  if (prefix) for (const key of await objects.list(prefix).catch(() => [])) await objects.delete(key);
}

function startBackfill(h: Harness): Promise<WorkflowHandle<typeof embedBackfill>> {
  const runId = uniqueId('embed-');
  return h.client.workflow.start<typeof embedBackfill>('embedBackfill', {
    taskQueue: h.cfg.TASK_QUEUE_PIPELINE,
    workflowId: runId,
    args: [{ runId }],
  });
}

async function waitFor<T>(what: string, check: () => Promise<T | undefined>, ms = 180_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await check().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`gave up after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function within<T>(what: string, p: Promise<T>, ms = RUN_DEADLINE_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not end within ${ms} ms`)), ms);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

/** Batches the emulator was asked to create and the inputs they held (all pages). */
async function providerRequests(h: Harness): Promise<{ batches: number; requests: number }> {
  let batches = 0;
  let requests = 0;
  let after: string | undefined;
  for (;;) {
    const res = await fetch(`${h.emulator.url}/v1/batches?limit=100${after ? `&after=${after}` : ''}`);
    const page = (await res.json()) as {
      data: Array<{ id: string; request_counts: { total: number } }>;
      has_more: boolean;
    };
    batches += page.data.length;
    requests += page.data.reduce((n, b) => n + b.request_counts.total, 0);
    if (!page.has_more || page.data.length === 0) return { batches, requests };
    after = page.data[page.data.length - 1]!.id;
  }
}

/** Waits until nothing is pending or open and the compactor has ended; every item embedded and in Chroma. */
async function assertAllEmbedded(h: RepairHarness): Promise<EmbedStatus> {
  const s = await waitFor('embedding to settle', async () => {
    const st = await embedStatus(h.direct, h.client);
    return st.pending === 0 &&
      st.deltasPending === 0 &&
      st.batchesOpen === 0 &&
      st.compactor.status !== 'RUNNING'
      ? st
      : undefined;
  }).catch(async (err: Error) => {
    throw new Error(`${err.message}: ${JSON.stringify(await embedStatus(h.direct, h.client))}`);
  });
  assert.equal(s.embedded, h.items, JSON.stringify(s));
  assert.equal(s.chroma, h.items, 'every embedded item has its vector in Chroma');
  assert.equal(s.failed, 0);
  assert.equal(s.notEmbedded, 0);
  return s;
}

async function firstProviderBatch(h: Harness): Promise<void> {
  await waitFor('the first batch at the provider', async () =>
    (await providerRequests(h)).batches >= 1 ? true : undefined,
  );
}

async function withProxyTo(target: string, fn: (p: FaultProxy) => Promise<void>): Promise<void> {
  const proxy = await startFaultProxy({ target });
  try {
    await fn(proxy);
  } finally {
    await proxy.close();
  }
}

describe('embedding repair: a delta that fails for a whole Chroma outage', { timeout: 240_000 }, () => {
  test('is redriven: no item says SUCCESS meanwhile, every vector ends in Chroma, the report counts it', async () => {
    await withProxyTo(loadConfig(process.env).chromaUrl, async (proxy) => {
      let h: RepairHarness | undefined;
      try {
        h = await repairHarness({
          batchCompleteAfterS: 2,
          env: { CHROMA_URL: proxy.url, EMBED_DATA_MAX_ATTEMPTS: '2' },
        });
        const deps = createEmbeddingDeps(h.direct);
        const handle = await startBackfill(h);
        await firstProviderBatch(h);
        // The outage lasts until a delta has failed for it (however slow the machine), then ends.
        await proxy.inject({ kind: 'fail', status: 503 });
        // While a delta is FAILED its items must not say SUCCESS (their vectors are not in Chroma).
        const held = await waitFor('a FAILED delta whose items are back to PENDING', async () => {
          for (const d of await deps.embeddings.listDeltas('FAILED')) {
            const items = await deps.embeddings.listByStatus(d.kind, 'SUCCESS');
            if (!items.some((i) => i.batch === d.batchKey)) return d.batchKey;
          }
          return undefined;
        });
        await proxy.clear();
        const report = await within('the backfill', handle.result());
        assert.ok(report.deltasRedriven >= 1, `a failed delta was redriven: ${JSON.stringify(report)}`);
        assert.equal(report.deltasFailed, 0, 'no delta of the run is left FAILED');
        const delta = await deps.embeddings.getDelta(held);
        assert.equal(delta?.state, 'APPLIED', `${held} was applied after its redrive`);
        assert.ok(proxy.stats().faulted.fail! > 0, 'the outage hit Chroma');
        const s = await assertAllEmbedded(h);
        assert.equal(s.deltasFailed, 0);
      } finally {
        await closeRepairHarness(h);
      }
    });
  });
});

describe('embedding repair: results that fail to process during an S3 outage', { timeout: 240_000 }, () => {
  test('are re-read from the output file, not resubmitted and paid again', async () => {
    await withProxyTo(loadConfig(process.env).s3Endpoint, async (proxy) => {
      let h: RepairHarness | undefined;
      try {
        h = await repairHarness({
          batchCompleteAfterS: 2,
          env: { S3_ENDPOINT: proxy.url, EMBED_DATA_MAX_ATTEMPTS: '2' },
        });
        const handle = await startBackfill(h);
        await firstProviderBatch(h);
        await proxy.inject({ kind: 'reset' }, { forMs: 10_000 });
        const report = await within('the backfill', handle.result());
        assert.ok(proxy.stats().faulted.reset! > 0, 'the outage hit S3');
        await assertAllEmbedded(h);
        const provider = await providerRequests(h);
        assert.equal(provider.requests, h.items, 'each item sent to the provider once (nothing paid twice)');
        assert.equal(report.resubmitted, 0, JSON.stringify(report));
        assert.equal(report.succeeded, h.items);
      } finally {
        await closeRepairHarness(h);
      }
    });
  });
});

describe('embedding repair: a poll workflow that dies without signalling', { timeout: 240_000 }, () => {
  test('is restarted by its waiting backfill, which ends with every item embedded, nothing paid twice', async () => {
    let h: RepairHarness | undefined;
    try {
      h = await repairHarness({ batchCompleteAfterS: 3 });
      const deps = createEmbeddingDeps(h.direct);
      const handle = await startBackfill(h);
      const runId = handle.workflowId;
      const batchKey = await waitFor('a submitted batch with its poller', async () => {
        for (const b of await deps.embeddings.listRunBatches(runId)) {
          if (b.state !== 'SUBMITTED') continue;
          const d = await h!.client.workflow.getHandle(`embed-poll/${b.batchKey}`).describe();
          if (d.status.name === 'RUNNING') return b.batchKey;
        }
        return undefined;
      });
      await h.client.workflow.getHandle(`embed-poll/${batchKey}`).terminate('test: the poller dies');
      const report = await within('the backfill', handle.result());
      assert.equal(report.succeeded, h.items, JSON.stringify(report));
      await assertAllEmbedded(h);
      const provider = await providerRequests(h);
      assert.equal(provider.requests, h.items, 'each item sent to the provider once');
      assert.equal(provider.batches, report.batches);
    } finally {
      await closeRepairHarness(h);
    }
  });
});

describe('embedding repair: PENDING items left by a dead run', { timeout: 240_000 }, () => {
  test('are swept by the next backfill and embedded', async () => {
    let h: RepairHarness | undefined;
    try {
      h = await repairHarness({ batchCompleteAfterS: 1 });
      const deps = createEmbeddingDeps(h.direct);
      // A run that claimed five lines and died before submitting them (its workflow is gone).
      const deadRun = uniqueId('dead-');
      const batchKey = batchKeyOf(deadRun, 'LINE', 0);
      const claimed = await deps.embeddings.listCandidates('LINE', 5);
      assert.equal(claimed.length, 5);
      const inputKey = `${h.direct.EMBED_S3_PREFIX}batches/${deadRun}/line-00000/input-1.ndjson`;
      await deps.objects.putText(
        inputKey,
        claimed.map((c) => requestLine('LINE', c.id, c.text, 'text-embedding-3-small')).join(''),
      );
      await deps.embeddings.createBatch({
        batchKey,
        runId: deadRun,
        kind: 'LINE',
        seq: 0,
        state: 'CLAIMED',
        createdAt: Date.now() - 3600_000,
        inputKey,
        itemCount: claimed.length,
      });
      for (const c of claimed) assert.ok(await deps.embeddings.claim('LINE', c.id, batchKey));

      const handle = await startBackfill(h);
      await within('the backfill', handle.result());
      await assertAllEmbedded(h);
      assert.equal((await deps.embeddings.getBatch(deadRun, 'LINE', 0))?.state, 'RELEASED');
    } finally {
      await closeRepairHarness(h);
    }
  });
});
