// The embedding run report (built from the run's batch records, stored on the run item) and the
// index counts `embed status` prints.
import { EMBED_KINDS, type EmbedKind } from '../../domain/embedding';
import { mapLimit } from '../../domain/chunk';
import { costOf, percentile, type LlmRunStats } from '../../llm/accounting';
import type { BatchOutcome, BatchRecord, EmbeddingStore } from '../../stores/embeddings';
import {
  REPORT_FAILURES,
  type ReportRequest,
  type RunReportBase,
  storeRunReport,
} from '../shared/run-report';
import { ITEM_UPDATE_CONCURRENCY, type EmbeddingDeps, type VectorIndex } from './deps';

/** The Batch API discounts batch requests by half. */
const BATCH_PRICE_FACTOR = 0.5;

export interface EmbeddingReport extends RunReportBase<'embed', LlmRunStats> {
  /** Items this run took on: submitted for the first time, or found in Chroma already. */
  total: number;
  /** Items embedded (vector in a delta, or already in Chroma; status SUCCESS). */
  succeeded: number;
  /** Items given up on after EMBED_MAX_ATTEMPTS, with a reason. */
  failed: number;
  /** Items released by an expired/failed batch and not yet resubmitted by this run. */
  released: number;
  /** Item submissions that were a retry (after an expiry, an error line, a failed batch). */
  resubmitted: number;
  /** Items whose record Chroma already held for the same document: marked embedded, not sent. */
  reusedFromChroma: number;
  /** This run's deltas that could not be applied to Chroma when the run ended (their items are PENDING). */
  deltasFailed: number;
  /** Times this run's deltas were applied again after failing (redrives). */
  deltasRedriven: number;
  batches: number;
  rounds: number;
  batchStatuses: Record<string, number>;
  /** Counts across the whole table and Chroma when the run ended. */
  index: EmbeddingCounts;
}

export interface EmbeddingCounts {
  embedded: number;
  pending: number;
  failed: number;
  notEmbedded: number;
  /** Records in the Chroma collections. */
  chroma: number;
  deltasPending: number;
  /** Deltas that could not be applied to Chroma (redriven by the next backfill). */
  deltasFailed: number;
  batchesOpen: number;
  byKind: Record<
    'lines' | 'words',
    { embedded: number; pending: number; failed: number; notEmbedded: number; chroma: number }
  >;
}

export interface BuildEmbeddingReportInput extends ReportRequest {
  rounds: number;
  failures: Array<{ itemId: string; reason: string }>;
}

/** Counts of the `embed status` command: DynamoDB GSI2 partitions, open batches, pending deltas, Chroma. */
export async function embeddingCounts(
  embeddings: EmbeddingStore,
  vectors: VectorIndex,
): Promise<EmbeddingCounts> {
  const perKind = async (kind: EmbedKind) => {
    const [embedded, pending, failed, notEmbedded, chroma] = await Promise.all([
      embeddings.countByStatus(kind, 'SUCCESS'),
      embeddings.countByStatus(kind, 'PENDING'),
      embeddings.countByStatus(kind, 'FAILED'),
      embeddings.countByStatus(kind, 'NOT_EMBEDDED'),
      vectors.count(kind),
    ]);
    return { embedded, pending, failed, notEmbedded, chroma };
  };
  const [lines, words, deltasPending, deltasFailed, batchesOpen] = await Promise.all([
    perKind('LINE'),
    perKind('WORD'),
    embeddings.countDeltas('PENDING'),
    embeddings.countDeltas('FAILED'),
    embeddings.countOpenBatches(),
  ]);
  const add = (k: keyof typeof lines) => lines[k] + words[k];
  return {
    embedded: add('embedded'),
    pending: add('pending'),
    failed: add('failed'),
    notEmbedded: add('notEmbedded'),
    chroma: add('chroma'),
    deltasPending,
    deltasFailed,
    batchesOpen,
    byKind: { lines, words },
  };
}

/** FAILED deltas among a run's batches, and the redrives of all its deltas. */
async function runDeltaCounts(
  embeddings: EmbeddingStore,
  batchKeys: string[],
): Promise<{ deltasFailed: number; deltasRedriven: number }> {
  const deltas = await mapLimit(batchKeys, ITEM_UPDATE_CONCURRENCY, (k) => embeddings.getDelta(k));
  return {
    deltasFailed: deltas.filter((d) => d?.state === 'FAILED').length,
    deltasRedriven: deltas.reduce((n, d) => n + (d?.redrives ?? 0), 0),
  };
}

/** What the provider was asked and charged for the run's batches (Batch API pricing). */
function llmStatsOf(deps: Pick<EmbeddingDeps, 'prices' | 'settings'>, batches: BatchRecord[]): LlmRunStats {
  const outcomes = batches.flatMap((b) => (b.outcome ? [b.outcome] : []));
  const requests = batches.reduce((n, b) => n + (b.itemCount ?? 0), 0);
  const promptTokens = outcomes.reduce((n, o) => n + o.promptTokens, 0);
  const turnarounds = outcomes.map((o) => o.turnaroundMs).sort((a, b) => a - b);
  const cost = costOf(deps.prices, deps.settings.model, promptTokens, 0) * BATCH_PRICE_FACTOR;
  return {
    calls: requests,
    providerRequests: requests,
    rateLimited: 0,
    errors: outcomes.reduce((n, o) => n + o.released + o.failed, 0),
    cacheHits: 0,
    timeouts: 0,
    truncated: 0,
    promptTokens,
    completionTokens: 0,
    costUsd: Math.round(cost * 1e6) / 1e6,
    latencyMs: {
      p50: percentile(turnarounds, 50),
      p95: percentile(turnarounds, 95),
      p99: percentile(turnarounds, 99),
    },
  };
}

/** Items of the run given up on, with their reasons (the first few). */
async function runItemFailures(embeddings: EmbeddingStore, runId: string) {
  const failedItems = (
    await Promise.all(EMBED_KINDS.map((k) => embeddings.listByStatus(k, 'FAILED')))
  ).flat();
  return failedItems
    .filter((i) => i.batch?.startsWith(`${runId}/`))
    .slice(0, REPORT_FAILURES)
    .map((i) => ({ itemId: i.id, reason: i.failureReason ?? 'unknown' }));
}

/** The report of a run from its batch records and the index as it is now. */
async function reportOf(deps: EmbeddingDeps, input: BuildEmbeddingReportInput): Promise<EmbeddingReport> {
  const { embeddings, vectors } = deps;
  const records = await embeddings.listRunBatches(input.runId);
  const reusedFromChroma = records.reduce((n, b) => n + (b.reused ?? 0), 0);
  const batches = records.filter((b) => b.state !== 'EMPTY');
  const outcomes = batches.flatMap((b) => (b.outcome ? [b.outcome] : []));
  const sum = (f: (o: BatchOutcome) => number) => outcomes.reduce((n, o) => n + f(o), 0);
  const requests = batches.reduce((n, b) => n + (b.itemCount ?? 0), 0);
  const resubmitted = batches.reduce((n, b) => n + (b.retried ?? 0), 0);
  const batchStatuses: Record<string, number> = {};
  for (const o of outcomes) batchStatuses[o.finalStatus] = (batchStatuses[o.finalStatus] ?? 0) + 1;
  const runFailures = await runItemFailures(embeddings, input.runId);
  return {
    runId: input.runId,
    pipeline: 'embed',
    status: input.status,
    total: requests - resubmitted + reusedFromChroma,
    succeeded: sum((o) => o.embedded) + reusedFromChroma,
    failed: sum((o) => o.failed),
    released: Math.max(0, sum((o) => o.released) - resubmitted),
    resubmitted,
    reusedFromChroma,
    ...(await runDeltaCounts(
      embeddings,
      batches.map((b) => b.batchKey),
    )),
    batches: batches.length,
    rounds: input.rounds,
    batchStatuses,
    failures: [...input.failures, ...runFailures].slice(0, REPORT_FAILURES),
    index: await embeddingCounts(embeddings, vectors),
    llm: llmStatsOf(deps, batches),
    makespanMs: input.makespanMs,
  };
}

export function createReportActivities(deps: EmbeddingDeps) {
  return {
    async embeddingCounts(): Promise<EmbeddingCounts> {
      return embeddingCounts(deps.embeddings, deps.vectors);
    },

    /** The run report from its batch records; stored on the run item. */
    async buildEmbeddingReport(input: BuildEmbeddingReportInput): Promise<EmbeddingReport> {
      const report = await reportOf(deps, input);
      return storeRunReport(deps.runs, input, report);
    },
  };
}
