// What the fault scenarios share: the row they return, proxies around a run, direct (unproxied)
// access to the stack for the checks, polling with a deadline, and the setup of the two kinds of
// run they fault: an embedding backfill (startEmbeddingFaultRun) and an LLM run over the
// dataset's receipts or words (startEvaluationFaultRun).
import type { WorkflowHandle } from '@temporalio/client';
import { embedStatus, type EmbedStatus } from '../src/cli/embed';
import { loadConfig, type AppConfig } from '../src/config';
import { createEmbeddingDeps } from '../src/deps';
import { startFaultProxy, type FaultProxy } from '../dev/stack/fault-proxy';
import { ChromaStore } from '../src/stores/chroma';
import type { ItemResult } from '../src/stores/runs';
import type { QueueName } from '../src/worker';
import { embedHarnessEnv } from '../dev/harness/embed-harness';
import { startHarness, freePort, uniqueId, type Harness } from '../dev/harness/pipeline';
import { embedBackfill, type evaluateLabels, type harmonizeLabels } from '../src/workflows';

/** One row of docs/RELIABILITY.md: what was injected and what became of every item. */
export interface FaultRow {
  fault: string;
  items: number;
  succeeded: number;
  /** Items recorded as failed with a non-empty reason. */
  failedWithReason: number;
  /** Items with no outcome at all (no result, or left pending): must be 0. */
  lost: number;
  /** Provider requests beyond those of a clean run (work paid twice). */
  extraProviderRequests: number;
  /** The provider never saw more calls at once than the cap. */
  capHeld: boolean;
  /** Details for the table: when the fault hit, calls in flight then, request counts, run status. */
  detail: FaultDetail;
}

export interface FaultDetail {
  injected: string;
  runStatus: string;
  providerRequests: number;
  cleanProviderRequests: number;
  /** Provider calls in flight when the fault hit: the most a fault may make us pay twice. */
  inFlightAtFault: number;
  cap: number;
  inFlightMax: number;
  /** Requests to the service behind the proxy; `afterFault`: forwarded once the fault had ended. */
  proxy: { requests: number; faulted: number; afterFault?: number };
  makespanMs: number;
}

/** The seven fields `--json` prints per row. */
export function jsonRow(r: FaultRow) {
  const { fault, items, succeeded, failedWithReason, lost, extraProviderRequests, capHeld } = r;
  return { fault, items, succeeded, failedWithReason, lost, extraProviderRequests, capHeld };
}

export interface ScenarioContext {
  /** The stack's own endpoints (what the proxies stand in front of). */
  stack: AppConfig;
  /** How long each fault lasts. */
  faultMs: number;
  log: (line: string) => void;
}

export type FaultScenario = (ctx: ScenarioContext) => Promise<FaultRow>;

/** A proxy in front of `target` for the life of `fn`. */
export async function withProxy<T>(target: string, fn: (proxy: FaultProxy) => Promise<T>): Promise<T> {
  const proxy = await startFaultProxy({ target });
  try {
    return await fn(proxy);
  } finally {
    await proxy.close();
  }
}

/**
 * Counts the requests forwarded after the proxy's fault ended (armed or active when called): more
 * than 0 means the run still used the service after the outage, so the fault hit it mid-run.
 */
export function requestsAfterFault(proxy: FaultProxy): () => number {
  let seenActive = false;
  let atEnd: number | undefined;
  const timer = setInterval(() => {
    if (proxy.active) seenActive = true;
    else if (seenActive) {
      atEnd = proxy.stats().forwarded;
      clearInterval(timer);
    }
  }, 100);
  return () => {
    clearInterval(timer);
    return atEnd === undefined ? 0 : proxy.stats().forwarded - atEnd;
  };
}

/** The config of a harness env, but talking to the stack directly (checks bypass the proxies). */
export function directConfig(stack: AppConfig, env: Record<string, string>): AppConfig {
  const { DYNAMODB_ENDPOINT: _d, S3_ENDPOINT: _s, CHROMA_URL: _c, ...rest } = env;
  return loadConfig({
    ...process.env,
    ...rest,
    DYNAMODB_ENDPOINT: stack.dynamodbEndpoint,
    S3_ENDPOINT: stack.s3Endpoint,
    CHROMA_URL: stack.chromaUrl,
  });
}

/** Polls `check` until it returns a value; fails naming `what` after `ms`. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined>,
  ms = 120_000,
  everyMs = 50,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`gave up after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** `promise`, or an error naming `what` after `ms` (a run that never ends is a finding, not a hang). */
export async function within<T>(what: string, promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** A run started for a fault scenario: its id, its handle, and when it started. */
export interface FaultRun {
  runId: string;
  handle: WorkflowHandle;
  started: number;
}

/** The report of `run`, or `runStatus` FAILED with the reason when it failed or ran past `ms`. */
export async function awaitFaultRun<R extends { status: string }>(
  what: string,
  run: FaultRun,
  ms: number,
): Promise<{ report?: R; runStatus: string }> {
  try {
    const report = await within(`${what} ${run.runId}`, run.handle.result() as Promise<R>, ms);
    return { report, runStatus: report.status };
  } catch (err) {
    return { runStatus: `FAILED: ${(err as Error).message.slice(0, 120)}` };
  }
}

/** Items of a row: succeeded, failed with a reason, and lost (no result at all). */
export function tallyItems(results: ItemResult[], itemIds: string[]) {
  const byId = new Map(results.map((r) => [r.itemId, r]));
  return {
    items: itemIds.length,
    succeeded: itemIds.filter((id) => byId.get(id)?.status === 'SUCCEEDED').length,
    failedWithReason: itemIds.filter((id) => byId.get(id)?.status === 'FAILED' && byId.get(id)?.reason)
      .length,
    lost: itemIds.filter((id) => !byId.has(id)).length,
  };
}

export interface EvaluationFaultRunOptions {
  /** The root workflow: a label evaluation or a harmonization (both review with the LLM queue). */
  workflow: typeof evaluateLabels | typeof harmonizeLabels;
  runId: string;
  reviewChunkSize?: number;
  noCache?: boolean;
}

/** Starts an LLM run over the harness's dataset on its pipeline and llm queues. */
export async function startEvaluationFaultRun(
  h: Harness,
  opts: EvaluationFaultRunOptions,
): Promise<FaultRun> {
  const { workflow, runId, reviewChunkSize, noCache } = opts;
  const started = Date.now();
  const handle = await h.client.workflow.start(workflow, {
    taskQueue: h.cfg.TASK_QUEUE_PIPELINE,
    workflowId: runId,
    args: [
      {
        runId,
        llmTaskQueue: h.cfg.TASK_QUEUE_LLM,
        ...(reviewChunkSize !== undefined ? { reviewChunkSize } : {}),
        ...(noCache ? { noCache: true } : {}),
      },
    ],
  });
  return { runId, handle, started };
}

export interface EmbeddingFaultRunOptions {
  /** Seed of the dataset (1 merchant, 5 receipts). */
  seed: number;
  /** Workers run in this process. @default ['pipeline'] */
  queues?: QueueName[];
  /** The emulator's port. @default a free one */
  port?: number;
  /** Where the workers reach the OpenAI API (a proxy in front of the emulator). @default the emulator */
  openaiBaseUrl?: string;
  /** More env for the harness (a proxied endpoint). */
  env?: Record<string, string>;
}

/** An embedding harness ready for a fault: its own collections, S3 prefix and compactor. */
export interface EmbeddingFaultHarness {
  h: Harness;
  /** The harness's config talking to the stack directly (checks bypass the proxies). */
  cfg: AppConfig;
  /** Lines and words of the dataset: what the backfill embeds. */
  items: number;
  /** Starts the backfill with a run id starting with `idPrefix`. */
  start(idPrefix: string): Promise<FaultRun>;
  /**
   * Awaits the backfill (its report or why it failed), then the embedding status once `settled`
   * holds (the last one after `settleMs`), and the items the provider was asked to embed.
   */
  finish(run: FaultRun, opts: EmbeddingFinishOptions): Promise<EmbeddingOutcome>;
  /** Closes the harness and deletes its collections and S3 objects. */
  close(): Promise<void>;
}

export interface EmbeddingFinishOptions {
  runDeadlineMs: number;
  settleMs: number;
  /** When the backfill has settled. @default nothing pending, no open batch, every item in Chroma or failed */
  settled?: (s: EmbedStatus, items: number) => boolean;
}

export interface EmbeddingOutcome {
  runStatus: string;
  status: EmbedStatus;
  makespanMs: number;
  /** Batches created at the provider and the items asked of them. */
  batches: number;
  requests: number;
}

/** Nothing pending, no open batch, every item in Chroma or failed. */
export const allItemsApplied = (s: EmbedStatus, items: number): boolean =>
  s.pending === 0 && s.deltasPending === 0 && s.batchesOpen === 0 && s.chroma + s.failed >= items;

/** Batch size of the embedding fault runs: 5 receipts make a few batches. */
const EMBED_MAX_REQUESTS = 150;

/** Starts an embedding harness (fast polls, short heartbeats) on the stack of `ctx`. */
export async function startEmbeddingFaultRun(
  ctx: ScenarioContext,
  opts: EmbeddingFaultRunOptions,
): Promise<EmbeddingFaultHarness> {
  const port = opts.port ?? (await freePort());
  const tag = uniqueId('fe');
  const h = await startHarness({
    queues: opts.queues ?? ['pipeline'],
    emulator: { port, batchCompleteAfterS: 2, embeddingDim: 64 },
    env: {
      ...embedHarnessEnv({
        port,
        tag,
        openaiBaseUrl: opts.openaiBaseUrl,
        maxRequestsPerBatch: EMBED_MAX_REQUESTS,
      }),
      ...opts.env,
    },
    dataset: { merchants: 1, receiptsPerMerchant: 5, seed: opts.seed },
  });
  const cfg = directConfig(ctx.stack, h.env);
  const items = h.dataset!.receipts.reduce(
    (n, r) => n + r.lines.length + r.lines.reduce((m, l) => m + l.words.length, 0),
    0,
  );
  return {
    h,
    cfg,
    items,
    async start(idPrefix) {
      const runId = uniqueId(idPrefix);
      const started = Date.now();
      const handle = await h.client.workflow.start(embedBackfill, {
        taskQueue: h.cfg.TASK_QUEUE_PIPELINE,
        workflowId: runId,
        args: [{ runId }],
      });
      return { runId, handle, started };
    },
    async finish(run, { runDeadlineMs, settleMs, settled = allItemsApplied }) {
      const { runStatus } = await awaitFaultRun('embedding', run, runDeadlineMs);
      // Deltas are applied by the compactor after the backfill ends: wait until nothing is pending.
      const status = await waitFor(
        'embedding to settle',
        async () => {
          const s = await embedStatus(cfg, h.client);
          return settled(s, items) ? s : undefined;
        },
        settleMs,
        250,
      ).catch(() => embedStatus(cfg, h.client));
      const makespanMs = Date.now() - run.started;
      const batches = await providerBatches(h.emulator.url);
      const requests = batches.reduce((n, b) => n + b.request_counts.total, 0);
      return { runStatus, status, makespanMs, batches: batches.length, requests };
    },
    async close() {
      await h.close();
      await new ChromaStore({ url: cfg.chromaUrl, prefix: cfg.CHROMA_COLLECTION_PREFIX })
        .deleteCollections()
        .catch(() => undefined);
      const objects = createEmbeddingDeps(cfg).objects;
      for (const key of await objects.list(cfg.EMBED_S3_PREFIX).catch(() => [])) await objects.delete(key);
    },
  };
}

/** The row of an embedding fault: items in Chroma succeeded, FAILED items carry their reason. */
export function embeddingRow(
  run: EmbeddingFaultHarness,
  outcome: EmbeddingOutcome,
  row: { fault: string; injected: string; proxy: FaultDetail['proxy'] },
): FaultRow {
  const { status, requests: requested, runStatus, makespanMs } = outcome;
  // Embedded and in Chroma: an item counted SUCCESS whose vector never reached Chroma is lost.
  const succeeded = Math.min(status.embedded, status.chroma);
  return {
    fault: row.fault,
    items: run.items,
    succeeded,
    failedWithReason: status.failed,
    lost: run.items - succeeded - status.failed,
    extraProviderRequests: Math.max(0, requested - run.items),
    capHeld: true, // the Batch API takes no permits: nothing in flight to cap
    detail: {
      injected: row.injected,
      runStatus: `${runStatus}; embedded ${status.embedded}, Chroma ${status.chroma}, deltas pending ${status.deltasPending}`,
      providerRequests: requested,
      cleanProviderRequests: run.items,
      inFlightAtFault: 0,
      cap: run.h.cfg.LLM_MAX_CONCURRENT_CALLS,
      inFlightMax: run.h.emulator.metrics().inFlightMax,
      proxy: row.proxy,
      makespanMs,
    },
  };
}

/** Batches the emulator was asked to create, with their request counts (all pages). */
export async function providerBatches(emulatorUrl: string) {
  const out: Array<{ id: string; request_counts: { total: number } }> = [];
  let after: string | undefined;
  for (;;) {
    const res = await fetch(`${emulatorUrl}/v1/batches?limit=100${after ? `&after=${after}` : ''}`);
    const page = (await res.json()) as { data: typeof out; has_more: boolean };
    out.push(...page.data);
    if (!page.has_more || page.data.length === 0) return out;
    after = page.data[page.data.length - 1]!.id;
  }
}
