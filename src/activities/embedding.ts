// Pipeline-queue activities of the embedding pipeline (seed 003): submit a batch idempotently,
// check it, turn its results into an S3 delta and item statuses, release failed items, apply deltas
// to Chroma in heartbeated chunks, export snapshots, and build the run report.
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { AppConfig } from '../config';
import {
  DEFAULT_EMBED_SETTINGS,
  EMBED_KINDS,
  EmbeddingInputError,
  batchKeyOf,
  chunkRequestLines,
  decodeCustomId,
  deltaToNdjson,
  effectiveLimits,
  isFinalBatchStatus,
  BatchResultJoiner,
  parseBatchKey,
  parseDeltaNdjson,
  requestLine,
  type DeltaRecord,
  type EmbedKind,
  type EmbedSettings,
} from '../domain/embedding';
import { mapLimit } from '../domain/chunk';
import type { EmbeddingStatus } from '../domain/receipt';
import { costOf, percentile, type LlmRunStats, type PriceTable } from '../llm/accounting';
import type { Batch, BatchApi } from '../llm/batch-api';
import { toActivityFailure } from '../llm/errors';
import type {
  BatchOutcome,
  BatchRecord,
  DeltaItem,
  EmbeddableItem,
  EmbeddingStore,
} from '../stores/embeddings';
import { lineChromaRecord, wordChromaRecord, type ChromaRecord, type ChromaStore } from '../stores/chroma';
import type { RunStore } from '../stores/runs';
import type { ObjectStore } from '../stores/s3';
import { createEmbeddingRepairActivities, setDeltaItems } from './embedding-repair';

/** What the pipeline needs from the vector store: src/stores/chroma.ts (ChromaStore) provides it. */
export type VectorIndex = Pick<ChromaStore, 'upsert' | 'get' | 'count' | 'page' | 'collectionName'>;

/**
 * The Chroma record of a line or word: the same builders as the harmonizer's, so the document that
 * is embedded and the metadata stored never depend on which pipeline wrote the vector.
 */
export function chromaRecordOf(item: EmbeddableItem): ChromaRecord {
  return item.kind === 'WORD'
    ? wordChromaRecord({
        wordId: item.id,
        receiptId: item.receiptId,
        merchantId: item.merchantId,
        text: item.text,
        ...(item.lineText !== undefined ? { lineText: item.lineText } : {}),
        ...(item.wordIndex !== undefined ? { wordIndex: item.wordIndex } : {}),
        ...(item.label !== undefined ? { label: item.label } : {}),
        ...(item.validationStatus !== undefined ? { validationStatus: item.validationStatus } : {}),
      })
    : lineChromaRecord({
        lineId: item.id,
        receiptId: item.receiptId,
        merchantId: item.merchantId,
        lineIndex: item.lineIndex,
        text: item.text,
      });
}

export interface EmbeddingDeps {
  embeddings: EmbeddingStore;
  objects: ObjectStore;
  batchApi: BatchApi;
  vectors: VectorIndex;
  runs: RunStore;
  settings: EmbedSettings;
  prices: PriceTable;
  /** Prefix of every S3 key the pipeline writes. */
  s3Prefix: string;
}

/** Item updates in flight at once inside one activity (DynamoDB conditional writes). */
const ITEM_UPDATE_CONCURRENCY = 16;
/** Records per snapshot part file. */
const SNAPSHOT_PAGE = 5_000;
/** The Batch API discounts batch requests by half. */
const BATCH_PRICE_FACTOR = 0.5;

export function embedSettingsFromConfig(cfg: AppConfig): EmbedSettings {
  return {
    ...DEFAULT_EMBED_SETTINGS,
    model:
      cfg.EMBED_MODEL ?? (cfg.llmProvider === 'openai' ? cfg.embeddingModel : DEFAULT_EMBED_SETTINGS.model),
    maxRequestsPerBatch: cfg.EMBED_BATCH_MAX_REQUESTS,
    maxBytesPerBatch: cfg.EMBED_BATCH_MAX_BYTES,
    pollInitialMs: cfg.EMBED_POLL_INITIAL_MS,
    pollMaxMs: Math.max(cfg.EMBED_POLL_MAX_MS, cfg.EMBED_POLL_INITIAL_MS),
    pollBackoff: cfg.EMBED_POLL_BACKOFF,
    pollsPerRun: cfg.EMBED_POLLS_PER_RUN,
    maxAttempts: cfg.EMBED_MAX_ATTEMPTS,
    maxRounds: cfg.EMBED_MAX_ROUNDS,
    reconcileMs: cfg.EMBED_RECONCILE_MS,
    compactorId: cfg.EMBED_COMPACTOR_ID,
    compactChunkSize: cfg.EMBED_COMPACT_CHUNK_SIZE,
    deltaPartRecords: cfg.EMBED_DELTA_PART_RECORDS,
    compactIdleMs: cfg.EMBED_COMPACT_IDLE_MS,
    snapshot: cfg.EMBED_SNAPSHOT,
    deleteAppliedDeltas: cfg.EMBED_DELETE_APPLIED_DELTAS,
    heartbeatTimeoutMs: cfg.EMBED_HEARTBEAT_TIMEOUT_MS,
    dataMaxAttempts: cfg.EMBED_DATA_MAX_ATTEMPTS,
  };
}

export interface SubmitEmbeddingBatchInput {
  runId: string;
  kind: EmbedKind;
  seq: number;
  model: string;
  maxRequests: number;
  maxBytes: number;
}

export interface SubmitEmbeddingBatchResult {
  batchKey: string;
  /** SUBMITTED: a batch runs at the provider; EMPTY: nothing was claimed under this key. */
  state: 'SUBMITTED' | 'EMPTY';
  /** NOT_EMBEDDED items found when the batch was cut (0: nothing left to embed). */
  candidates: number;
  itemCount: number;
  retried: number;
  openaiBatchId?: string;
}

export interface BatchCheck {
  status: string;
  requestCounts: { total: number; completed: number; failed: number };
  /** Validation errors of a failed batch (first few). */
  errors: string[];
}

export interface EmbeddingReport {
  runId: string;
  pipeline: 'embed';
  status: string;
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
  failures: Array<{ itemId: string; reason: string }>;
  /** Counts across the whole table and Chroma when the run ended. */
  index: EmbeddingCounts;
  llm: LlmRunStats;
  makespanMs: number;
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

export function createEmbeddingActivities(deps: EmbeddingDeps) {
  const { embeddings, objects, batchApi, vectors } = deps;
  const keyPath = (batchKey: string) => {
    const { runId, kind, seq } = parseBatchKey(batchKey);
    return `${runId}/${kind.toLowerCase()}-${String(seq).padStart(5, '0')}`;
  };
  const s3Key = (area: 'batches' | 'deltas' | 'snapshots', rest: string) => `${deps.s3Prefix}${area}/${rest}`;

  async function recordOf(batchKey: string): Promise<BatchRecord> {
    const { runId, kind, seq } = parseBatchKey(batchKey);
    const rec = await embeddings.getBatch(runId, kind, seq);
    if (!rec) throw ApplicationFailure.nonRetryable(`No embedding batch record ${batchKey}`, 'InvalidInput');
    return rec;
  }

  /** The custom_ids a batch record stands for: its input file once claimed, else its candidates. */
  async function customIdsOf(rec: BatchRecord): Promise<string[]> {
    const key = rec.inputKey ?? rec.candidatesKey;
    if (!key) return [];
    const text = await objects.getText(key);
    if (text === undefined)
      throw ApplicationFailure.nonRetryable(
        `Batch file ${key} of ${rec.batchKey} is missing from S3`,
        'InvalidInput',
      );
    return customIdsOfNdjson(text);
  }

  /**
   * Sets the final item statuses of a batch and returns its outcome. Items still PENDING on this
   * batch move to SUCCESS (vector in hand) or back to NOT_EMBEDDED/FAILED (with a reason); items it
   * moved already (a retried attempt) are only counted.
   */
  async function settleItems(
    rec: BatchRecord,
    vectorsById: ReadonlySet<string>,
    reasonFor: (id: string) => string,
    maxAttempts: number,
    heartbeat: () => void,
  ): Promise<Pick<BatchOutcome, 'embedded' | 'released' | 'failed'>> {
    const ids = (await customIdsOf(rec)).map((c) => decodeCustomId(c).id);
    const items = await embeddings.getItems(rec.kind, ids);
    const out = { embedded: 0, released: 0, failed: 0 };
    const now = Date.now();
    await mapLimit([...items.values()], ITEM_UPDATE_CONCURRENCY, async (item) => {
      heartbeat();
      if (item.batch !== rec.batchKey) return; // never ours, or taken by a later batch
      let status: EmbeddingStatus | undefined = item.status;
      if (item.status === 'PENDING') {
        if (vectorsById.has(item.id)) {
          status = (await embeddings.markEmbedded(rec.kind, item.id, rec.batchKey, now))
            ? 'SUCCESS'
            : undefined;
        } else {
          status = await embeddings.release(
            rec.kind,
            item.id,
            rec.batchKey,
            item.attempts,
            maxAttempts,
            reasonFor(item.id),
          );
        }
      }
      if (status === 'SUCCESS') out.embedded++;
      else if (status === 'NOT_EMBEDDED') out.released++;
      else if (status === 'FAILED') out.failed++;
    });
    return out;
  }

  const activities = {
    /** The worker's embedding settings, recorded in history by a local activity. */
    async embeddingSettings(): Promise<EmbedSettings> {
      return deps.settings;
    },

    /**
     * Cuts, records and submits one batch under a deterministic key; resumes from the recorded
     * state on every retry (PREPARED -> CLAIMED -> UPLOADED -> SUBMITTED), so items are never
     * submitted twice whenever the worker dies.
     */
    async submitEmbeddingBatch(input: SubmitEmbeddingBatchInput): Promise<SubmitEmbeddingBatchResult> {
      const ctx = Context.current();
      const attempt = ctx.info.attempt;
      const batchKey = batchKeyOf(input.runId, input.kind, input.seq);
      const base = keyPath(batchKey);
      try {
        let rec = await embeddings.getBatch(input.runId, input.kind, input.seq);
        if (!rec) {
          const limits = effectiveLimits({ maxRequests: input.maxRequests, maxBytes: input.maxBytes });
          const found = await embeddings.listCandidates(input.kind, limits.maxRequests);
          // A record Chroma already holds for the same document (e.g. the harmonizer embedded the word)
          // is not paid for twice: the item is marked embedded as it is.
          const stored = await vectors.get(
            input.kind,
            found.map((c) => c.id),
          );
          const usable: Array<{ line: string; attempts: number }> = [];
          let reused = 0;
          for (const c of found) {
            const { document } = chromaRecordOf(c);
            if (stored.get(c.id)?.document === document && document.trim() !== '') {
              if (await embeddings.markEmbeddedFromIndex(c.kind, c.id, Date.now())) reused++;
            } else if (c.text.trim() === '' || document.trim() === '')
              await embeddings.markUnembeddable(c.kind, c.id, 'empty text cannot be embedded');
            else
              usable.push({ line: requestLine(c.kind, c.id, document, input.model), attempts: c.attempts });
          }
          const { batches, oversized } = chunkRequestLines(usable, limits);
          for (const o of oversized) {
            const { id } = decodeCustomId(customIdsOfNdjson(o.line)[0]!);
            await embeddings.markUnembeddable(input.kind, id, `request larger than ${limits.maxBytes} bytes`);
          }
          const chosen = batches[0] ?? [];
          const createdAt = Date.now();
          const common = { batchKey, runId: input.runId, kind: input.kind, seq: input.seq, createdAt };
          if (chosen.length === 0) {
            await embeddings.createBatch({ ...common, state: 'EMPTY', candidates: found.length, reused });
          } else {
            // Candidates go to S3 before the record names them: a retry claims from this file.
            const candidatesKey = s3Key('batches', `${base}/candidates-${attempt}.ndjson`);
            await objects.putText(candidatesKey, chosen.map((c) => c.line).join(''));
            await embeddings.createBatch({
              ...common,
              state: 'PREPARED',
              candidatesKey,
              candidates: chosen.length,
              retried: chosen.filter((c) => c.attempts > 0).length,
              reused,
            });
          }
          rec = await recordOf(batchKey);
        }
        for (;;) {
          switch (rec.state) {
            case 'PREPARED': {
              const text = (await objects.getText(rec.candidatesKey!)) ?? '';
              const lines = text.split('\n').filter((l) => l.trim() !== '');
              const claimed: string[] = [];
              const ok = await mapLimit(lines, ITEM_UPDATE_CONCURRENCY, async (line) => {
                ctx.heartbeat();
                const { kind, id } = decodeCustomId(customIdsOfNdjson(line)[0]!);
                return embeddings.claim(kind, id, batchKey);
              });
              lines.forEach((l, i) => {
                if (ok[i]) claimed.push(l + '\n');
              });
              if (claimed.length === 0) {
                await embeddings.transitionBatch(rec, 'PREPARED', 'EMPTY', { itemCount: 0 });
              } else {
                const inputKey = s3Key('batches', `${base}/input-${attempt}.ndjson`);
                const body = claimed.join('');
                await objects.putText(inputKey, body);
                await embeddings.transitionBatch(rec, 'PREPARED', 'CLAIMED', {
                  inputKey,
                  itemCount: claimed.length,
                  bytes: Buffer.byteLength(body),
                });
              }
              break;
            }
            case 'CLAIMED': {
              const body = await objects.getText(rec.inputKey!);
              if (body === undefined)
                throw ApplicationFailure.nonRetryable(
                  `Input file ${rec.inputKey} is missing from S3`,
                  'InvalidInput',
                );
              ctx.heartbeat();
              const fileId = await batchApi.uploadInputFile(body, `${base.replace(/[^\w.-]+/g, '_')}.jsonl`);
              const won = await embeddings.transitionBatch(rec, 'CLAIMED', 'UPLOADED', {
                fileId,
                uploadedAt: Date.now(),
              });
              if (!won) await batchApi.deleteFile(fileId).catch(() => undefined); // a concurrent attempt uploaded first
              break;
            }
            case 'UPLOADED': {
              ctx.heartbeat();
              // An earlier attempt may have created the batch and died before recording it.
              const since = Math.floor((rec.uploadedAt ?? rec.createdAt) / 1000) - 300;
              const existing = await batchApi.findByInputFile(rec.fileId!, since);
              const batch: Batch =
                existing ??
                (await batchApi.createEmbeddingsBatch(rec.fileId!, { batch_key: batchKey.slice(0, 512) }));
              const won = await embeddings.transitionBatch(rec, 'UPLOADED', 'SUBMITTED', {
                openaiBatchId: batch.id,
                submittedAt: Date.now(),
                status: batch.status,
              });
              if (!won && !existing) await batchApi.cancel(batch.id).catch(() => undefined);
              break;
            }
            case 'EMPTY':
              return { batchKey, state: 'EMPTY', candidates: rec.candidates ?? 0, itemCount: 0, retried: 0 };
            default:
              return {
                batchKey,
                state: 'SUBMITTED',
                candidates: rec.candidates ?? 0,
                itemCount: rec.itemCount ?? 0,
                retried: rec.retried ?? 0,
                openaiBatchId: rec.openaiBatchId,
              };
          }
          rec = await recordOf(batchKey);
        }
      } catch (err) {
        throw failureOf(err);
      }
    },

    /** One poll: the batch's API status (recorded on the batch record). */
    async checkEmbeddingBatch(input: { batchKey: string }): Promise<BatchCheck> {
      try {
        const rec = await recordOf(input.batchKey);
        if (!rec.openaiBatchId)
          throw ApplicationFailure.nonRetryable(
            `Batch ${input.batchKey} was never submitted`,
            'InvalidInput',
          );
        const b = await batchApi.retrieve(rec.openaiBatchId);
        if (rec.status !== b.status) await embeddings.noteBatchStatus(rec, b.status);
        return {
          status: b.status,
          requestCounts: {
            total: b.request_counts?.total ?? 0,
            completed: b.request_counts?.completed ?? 0,
            failed: b.request_counts?.failed ?? 0,
          },
          errors: (b.errors?.data ?? [])
            .slice(0, 5)
            .map((e) => `${e.code ?? 'error'}${e.line ? ` (line ${e.line})` : ''}: ${e.message ?? ''}`),
        };
      } catch (err) {
        throw failureOf(err);
      }
    },

    /**
     * A batch in a final state with output (completed, expired, cancelled): joins its output and
     * error files with what was sent, writes the delta (S3 object + PENDING delta record) first,
     * then marks embedded items SUCCESS and releases the rest. Idempotent.
     */
    async processEmbeddingBatch(input: { batchKey: string; maxAttempts: number }): Promise<BatchOutcome> {
      const ctx = Context.current();
      try {
        const rec = await recordOf(input.batchKey);
        if ((rec.state === 'PROCESSED' || rec.state === 'RELEASED') && rec.outcome) return rec.outcome;
        const b = await batchApi.retrieve(rec.openaiBatchId!);
        if (!isFinalBatchStatus(b.status) || b.status === 'failed')
          throw ApplicationFailure.nonRetryable(
            `Batch ${input.batchKey} is ${b.status}, not a batch with results`,
            'InvalidInput',
          );
        const sent = await customIdsOf(rec);
        // The output streams through the join; vectors go to S3 part by part, never all in memory.
        const joiner = new BatchResultJoiner(sent);
        const vectorIds = new Set<string>();
        const parts: string[] = [];
        let records = 0;
        let waiting: Array<{ customId: string; vector: number[] }> = [];
        const writePart = async () => {
          if (waiting.length === 0) return;
          const items = await embeddings.getItems(
            rec.kind,
            waiting.map((w) => decodeCustomId(w.customId).id),
          );
          const part: DeltaRecord[] = [];
          for (const { customId, vector } of waiting) {
            const item = items.get(decodeCustomId(customId).id);
            // Only items this batch holds (or already embedded) go into its delta.
            if (
              !item ||
              item.batch !== rec.batchKey ||
              (item.status !== 'PENDING' && item.status !== 'SUCCESS')
            )
              continue;
            vectorIds.add(item.id);
            const r = chromaRecordOf(item);
            part.push({ kind: rec.kind, id: r.id, vector, document: r.document, metadata: r.metadata });
          }
          waiting = [];
          if (part.length === 0) return;
          const key = s3Key(
            'deltas',
            `${keyPath(rec.batchKey)}/part-${String(parts.length).padStart(5, '0')}.ndjson`,
          );
          await objects.putText(key, deltaToNdjson(part));
          parts.push(key);
          records += part.length;
          ctx.heartbeat();
        };
        const keepAlive = heartbeatEvery(ctx);
        try {
          if (b.output_file_id) {
            for await (const line of batchApi.fileLines(b.output_file_id)) {
              const got = joiner.addLine(line);
              if (!got) continue;
              waiting.push(got);
              if (waiting.length >= deps.settings.deltaPartRecords) await writePart();
            }
          }
          await writePart();
          if (b.error_file_id)
            for await (const line of batchApi.fileLines(b.error_file_id)) joiner.addLine(line);
        } finally {
          clearInterval(keepAlive);
        }
        const joined = joiner.finish();
        if (records > 0) {
          // The delta is recorded before any item becomes SUCCESS: SUCCESS always has a vector behind it.
          await embeddings.putDelta({
            batchKey: rec.batchKey,
            runId: rec.runId,
            kind: rec.kind,
            parts,
            records,
            state: 'PENDING',
            createdAt: Date.now(),
          });
        }
        const missingReason = `missing from the output of a batch that ended ${b.status}`;
        const counts = await settleItems(
          rec,
          vectorIds,
          (id) => joined.errors.get(customIdFor(rec.kind, id)) ?? missingReason,
          input.maxAttempts,
          () => ctx.heartbeat(),
        );
        const endedAt = b.completed_at ?? b.expired_at ?? b.cancelled_at ?? Math.floor(Date.now() / 1000);
        const outcome: BatchOutcome = {
          batchKey: rec.batchKey,
          kind: rec.kind,
          finalStatus: b.status,
          ...counts,
          promptTokens: b.usage?.input_tokens ?? 0,
          turnaroundMs: Math.max(0, (endedAt - b.created_at) * 1000),
        };
        await embeddings.transitionBatch(rec, 'SUBMITTED', 'PROCESSED', { outcome, status: b.status });
        return outcome;
      } catch (err) {
        throw failureOf(err);
      }
    },

    /**
     * Gives a batch's items back (a failed batch, a submission that could not finish, a batch that
     * cannot be checked): each goes back to NOT_EMBEDDED with one more attempt, or FAILED.
     */
    async releaseEmbeddingBatch(input: {
      batchKey: string;
      reason: string;
      finalStatus: string;
      maxAttempts: number;
    }): Promise<BatchOutcome> {
      const ctx = Context.current();
      try {
        const rec = await recordOf(input.batchKey);
        if ((rec.state === 'PROCESSED' || rec.state === 'RELEASED') && rec.outcome) return rec.outcome;
        const counts = await settleItems(
          rec,
          new Set(),
          () => input.reason,
          input.maxAttempts,
          () => ctx.heartbeat(),
        );
        const outcome: BatchOutcome = {
          batchKey: rec.batchKey,
          kind: rec.kind,
          finalStatus: input.finalStatus,
          ...counts,
          promptTokens: 0,
          turnaroundMs: Math.max(0, Date.now() - (rec.submittedAt ?? rec.createdAt)),
        };
        await embeddings.transitionBatch(rec, ['PREPARED', 'CLAIMED', 'UPLOADED', 'SUBMITTED'], 'RELEASED', {
          outcome,
          reason: input.reason.slice(0, 1000),
        });
        return outcome;
      } catch (err) {
        throw failureOf(err);
      }
    },

    /** Outcomes of batches already settled (a waiting backfill reconciles with these). */
    async embeddingBatchOutcomes(input: { batchKeys: string[] }): Promise<BatchOutcome[]> {
      const recs = await mapLimit(input.batchKeys, ITEM_UPDATE_CONCURRENCY, (key) => recordOf(key));
      return recs.flatMap((rec) =>
        (rec.state === 'PROCESSED' || rec.state === 'RELEASED') && rec.outcome ? [rec.outcome] : [],
      );
    },

    /**
     * Signal-with-start of the compactor: starts it under its fixed id, or signals the one that
     * runs. Temporal allows one running execution per id, so there is never a second compactor.
     */
    async requestEmbeddingCompaction(input: {
      compactorId: string;
      reason: string;
    }): Promise<{ runId: string }> {
      const ctx = Context.current();
      const handle = await ctx.client.workflow.signalWithStart('compactEmbeddings', {
        workflowId: input.compactorId,
        taskQueue: ctx.info.taskQueue,
        args: [{}],
        signal: 'compactRequested',
        signalArgs: [{ reason: input.reason }],
        memo: { pipeline: 'embed' },
      });
      return { runId: handle.signaledRunId };
    },

    async listPendingEmbeddingDeltas(input: { limit: number; runId?: string }): Promise<DeltaItem[]> {
      return embeddings.listPendingDeltas(input.limit, input.runId);
    },

    /**
     * Upserts one delta into its Chroma collection in chunks, heartbeating the chunk reached (a
     * retried attempt resumes there; upserts are idempotent by id anyway), then marks it applied.
     */
    async applyEmbeddingDelta(input: {
      batchKey: string;
      chunkSize: number;
      deleteApplied: boolean;
      compactorRunId: string;
    }): Promise<{ records: number; applied: boolean }> {
      const ctx = Context.current();
      const delta = await embeddings.getDelta(input.batchKey);
      if (!delta || delta.state !== 'PENDING') return { records: delta?.records ?? 0, applied: false };
      const size = Math.max(1, input.chunkSize);
      const resume = (ctx.info.heartbeatDetails ?? {}) as { part?: number; chunk?: number };
      let upserted = 0;
      for (let p = resume.part ?? 0; p < delta.parts.length; p++) {
        const key = delta.parts[p]!;
        const text = await objects.getText(key);
        if (text === undefined)
          throw ApplicationFailure.nonRetryable(`Delta part ${key} is missing from S3`, 'DeltaMissing');
        let records: DeltaRecord[];
        try {
          records = parseDeltaNdjson(text);
        } catch (err) {
          throw ApplicationFailure.nonRetryable(
            `Delta part ${key}: ${(err as Error).message}`,
            'DeltaMissing',
          );
        }
        const firstChunk = p === resume.part ? (resume.chunk ?? 0) : 0;
        for (let c = firstChunk; c * size < records.length; c++) {
          const chunk = records.slice(c * size, (c + 1) * size);
          await vectors.upsert(delta.kind, chunk);
          upserted += chunk.length;
          ctx.heartbeat({ part: p, chunk: c + 1 });
        }
      }
      const applied = await embeddings.markDeltaApplied(delta, Date.now(), input.compactorRunId);
      // A redriven delta's items were held PENDING while it had failed: now they are in Chroma.
      if (delta.redrives) await setDeltaItems(deps, delta.batchKey, 'settle', () => ctx.heartbeat());
      if (input.deleteApplied) for (const key of delta.parts) await objects.delete(key);
      return { records: applied ? delta.records : upserted, applied };
    },

    /** Exports both collections to S3 `snapshots/<stamp>/` and points `snapshots/latest.json` at it. */
    async exportEmbeddingSnapshot(input: { stamp: string }): Promise<{ prefix: string; records: number }> {
      const ctx = Context.current();
      const prefix = s3Key('snapshots', `${input.stamp}/`);
      const files: Array<{ key: string; collection: string; records: number }> = [];
      let total = 0;
      for (const kind of EMBED_KINDS) {
        const collection = vectors.collectionName(kind);
        for (let part = 0; ; part++) {
          const page = await vectors.page(kind, part * SNAPSHOT_PAGE, SNAPSHOT_PAGE);
          if (page.length === 0) break;
          const key = `${prefix}${collection}-${String(part).padStart(5, '0')}.ndjson`;
          await objects.putText(key, deltaToNdjson(page));
          files.push({ key, collection, records: page.length });
          total += page.length;
          ctx.heartbeat({ kind, part });
          if (page.length < SNAPSHOT_PAGE) break;
        }
      }
      const manifest = JSON.stringify({ stamp: input.stamp, records: total, files }, null, 2);
      await objects.putText(`${prefix}manifest.json`, manifest, 'application/json');
      await objects.putText(s3Key('snapshots', 'latest.json'), manifest, 'application/json');
      return { prefix, records: total };
    },

    /**
     * PENDING -> FAILED (it no longer blocks the others), and its items back from SUCCESS to PENDING:
     * they are not in Chroma until a redrive applies the delta.
     */
    async markEmbeddingDeltaFailed(input: { batchKey: string; reason: string }): Promise<void> {
      await embeddings.markDeltaFailed(input.batchKey, input.reason, Date.now());
      if ((await embeddings.getDelta(input.batchKey))?.state !== 'FAILED') return;
      try {
        await setDeltaItems(deps, input.batchKey, 'hold');
      } catch (err) {
        // Best effort: the redrive applies the delta either way; this only keeps the statuses honest.
        Context.current().log.warn(
          `embedding delta ${input.batchKey}: items not set back to PENDING: ${String(err)}`,
        );
      }
    },

    async countPendingEmbeddingDeltas(input: { runId?: string }): Promise<number> {
      return (await embeddings.listPendingDeltas(Number.MAX_SAFE_INTEGER, input.runId)).length;
    },

    async embeddingCounts(): Promise<EmbeddingCounts> {
      return embeddingCounts(embeddings, vectors);
    },

    /** The run report from its batch records; stored on the run item. */
    async buildEmbeddingReport(input: {
      runId: string;
      status: string;
      rounds: number;
      makespanMs: number;
      failures: Array<{ itemId: string; reason: string }>;
    }): Promise<EmbeddingReport> {
      const records = await embeddings.listRunBatches(input.runId);
      const reusedFromChroma = records.reduce((n, b) => n + (b.reused ?? 0), 0);
      const batches = records.filter((b) => b.state !== 'EMPTY');
      const outcomes = batches.flatMap((b) => (b.outcome ? [b.outcome] : []));
      const sum = (f: (o: BatchOutcome) => number) => outcomes.reduce((n, o) => n + f(o), 0);
      const requests = batches.reduce((n, b) => n + (b.itemCount ?? 0), 0);
      const resubmitted = batches.reduce((n, b) => n + (b.retried ?? 0), 0);
      const promptTokens = sum((o) => o.promptTokens);
      const turnarounds = outcomes.map((o) => o.turnaroundMs).sort((a, b) => a - b);
      const batchStatuses: Record<string, number> = {};
      for (const o of outcomes) batchStatuses[o.finalStatus] = (batchStatuses[o.finalStatus] ?? 0) + 1;
      const failedItems = (
        await Promise.all(EMBED_KINDS.map((k) => embeddings.listByStatus(k, 'FAILED')))
      ).flat();
      const runFailures = failedItems
        .filter((i) => i.batch?.startsWith(`${input.runId}/`))
        .slice(0, 20)
        .map((i) => ({ itemId: i.id, reason: i.failureReason ?? 'unknown' }));
      const report: EmbeddingReport = {
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
        failures: [...input.failures, ...runFailures].slice(0, 20),
        index: await embeddingCounts(embeddings, vectors),
        llm: {
          calls: requests,
          providerRequests: requests,
          rateLimited: 0,
          errors: sum((o) => o.released + o.failed),
          cacheHits: 0,
          timeouts: 0,
          truncated: 0,
          promptTokens,
          completionTokens: 0,
          costUsd:
            Math.round(costOf(deps.prices, deps.settings.model, promptTokens, 0) * BATCH_PRICE_FACTOR * 1e6) /
            1e6,
          latencyMs: {
            p50: percentile(turnarounds, 50),
            p95: percentile(turnarounds, 95),
            p99: percentile(turnarounds, 99),
          },
        },
        makespanMs: input.makespanMs,
      };
      await deps.runs.finishRun(
        input.runId,
        report as unknown as Record<string, unknown>,
        input.status === 'COMPLETED' ? 'COMPLETED' : 'FAILED',
      );
      return report;
    },
  };
  return {
    ...activities,
    ...createEmbeddingRepairActivities(deps, activities.releaseEmbeddingBatch),
  };
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

function customIdFor(kind: EmbedKind, id: string): string {
  return `${kind === 'LINE' ? 'line' : 'word'}:${id}`;
}

/** custom_ids of an NDJSON request file, in order. */
function customIdsOfNdjson(text: string): string[] {
  const out: string[] = [];
  for (const raw of text.split('\n')) {
    if (raw.trim() === '') continue;
    const id = (JSON.parse(raw) as { custom_id?: unknown }).custom_id;
    if (typeof id !== 'string') throw new EmbeddingInputError('request line without custom_id');
    out.push(id);
  }
  return out;
}

/** Provider errors become typed ApplicationFailures; bad input is not retried. */
function failureOf(err: unknown): unknown {
  if (err instanceof ApplicationFailure) return err;
  if (err instanceof EmbeddingInputError) return ApplicationFailure.nonRetryable(err.message, 'InvalidInput');
  return toActivityFailure(err);
}

/** Heartbeats while a long download runs, a few times per heartbeat timeout. */
function heartbeatEvery(ctx: Context): NodeJS.Timeout {
  const timeout = ctx.info.heartbeatTimeoutMs ?? 60_000;
  return setInterval(() => ctx.heartbeat(), Math.max(200, Math.min(5_000, timeout / 3)));
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
