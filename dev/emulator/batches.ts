// OpenAI Batch API state: the batch jobs (their files live in batch-files.ts, their input lines in
// batch-input.ts). A batch's status is derived from the clock (created_at and the
// completion time it was created with), so no timers run; outputs are produced once, when a batch is
// first seen in a final state.
import {
  BATCH_ENDPOINTS,
  BATCH_METRICS_KEY,
  parseBatchInput,
  runBatchLine,
  type BatchEndpoint,
  type BatchError,
  type BatchLine,
} from './batch-input';
import { FileStore, IdSource, type StoredFile } from './batch-files';
import type { BatchStatus } from '../../src/domain/embedding';
import { type InferenceEngine } from './engine';
import { BadRequestError, isRecord } from './http-util';
import { type MetricsRecorder } from './metrics';
import { SeededRandom, hashParts } from './random';
import { type EmulatorSettings } from './settings';

export {
  BATCH_ENDPOINTS,
  BATCH_METRICS_KEY,
  MAX_BATCH_REQUESTS,
  type BatchEndpoint,
  type BatchError,
} from './batch-input';
export { FILE_PURPOSES, FileStore, IdSource, fileObject, type StoredFile } from './batch-files';

/** Phases as fractions of the completion time: validating until 10 %, finalizing from 90 %. */
const VALIDATING_END = 0.1;
const FINALIZING_START = 0.9;
/** A cancel takes this fraction of the completion time to become `cancelled`. */
const CANCELLING_FRACTION = 0.1;
const COMPLETION_WINDOW_S = 24 * 3600;

interface FinalState {
  status: 'failed' | 'completed' | 'expired' | 'cancelled';
  atMs: number;
  outputFileId: string | null;
  errorFileId: string | null;
  counts: { total: number; completed: number; failed: number };
  usage: { input_tokens: number; output_tokens: number };
}

interface BatchRecord {
  id: string;
  seq: number;
  inputFileId: string;
  endpoint: BatchEndpoint;
  metadata: Record<string, string> | null;
  model: string | null;
  createdAtMs: number;
  completeAfterMs: number;
  willExpire: boolean;
  /** Requests that run before an expiring batch expires. */
  expiringProcessed: number;
  lines: BatchLine[];
  /** Processing order (a seeded shuffle of line indices), which is also the output order. */
  order: number[];
  validationErrors: BatchError[];
  cancellingAtMs: number | undefined;
  final: FinalState | undefined;
}

const sec = (ms: number) => Math.floor(ms / 1000);

export interface BatchStoreDeps {
  engine: InferenceEngine;
  settings: () => EmulatorSettings;
  metrics: MetricsRecorder;
  ids?: IdSource;
  /** Where input files are read and output files written. @default a store of its own */
  files?: FileStore;
  now?: () => number;
}

export class BatchStore {
  readonly files: FileStore;
  private readonly batches = new Map<string, BatchRecord>();
  private seq = 0;
  private readonly ids: IdSource;
  private readonly now: () => number;

  constructor(private readonly deps: BatchStoreDeps) {
    this.ids = deps.ids ?? new IdSource();
    this.now = deps.now ?? Date.now;
    this.files = deps.files ?? new FileStore(this.ids, this.now);
  }

  // ---- files (kept here for callers of the store as a whole) ----

  createFile(content: Buffer, filename: string, purpose: string): StoredFile {
    return this.files.createFile(content, filename, purpose);
  }

  getFile(id: string): StoredFile {
    return this.files.getFile(id);
  }

  listFiles(purpose?: string): StoredFile[] {
    return this.files.listFiles(purpose);
  }

  deleteFile(id: string): { id: string; object: 'file'; deleted: true } {
    return this.files.deleteFile(id);
  }

  // ---- batches ----

  createBatch(body: Record<string, unknown>) {
    const { input_file_id: inputFileId, endpoint, completion_window: window, metadata } = body;
    if (typeof inputFileId !== 'string')
      throw new BadRequestError(
        "Missing required parameter: 'input_file_id'.",
        400,
        'input_file_id',
        'missing_required_parameter',
      );
    if (typeof endpoint !== 'string' || !(BATCH_ENDPOINTS as readonly string[]).includes(endpoint)) {
      throw new BadRequestError(
        `Invalid 'endpoint': ${JSON.stringify(endpoint)}. The emulator runs batches for ${BATCH_ENDPOINTS.join(' and ')}.`,
        400,
        'endpoint',
        'invalid_value',
      );
    }
    if (window !== '24h')
      throw new BadRequestError(
        "Invalid 'completion_window': only '24h' is supported.",
        400,
        'completion_window',
        'invalid_value',
      );
    if (
      metadata !== undefined &&
      metadata !== null &&
      (!isRecord(metadata) || Object.values(metadata).some((v) => typeof v !== 'string'))
    ) {
      throw new BadRequestError(
        "Invalid 'metadata': expected an object of string values.",
        400,
        'metadata',
        'invalid_value',
      );
    }
    const file = this.getFile(inputFileId);
    if (file.purpose !== 'batch') {
      throw new BadRequestError(
        `File ${inputFileId} has purpose '${file.purpose}'; a batch input file needs purpose 'batch'.`,
        400,
        'input_file_id',
        'invalid_value',
      );
    }
    const s = this.deps.settings();
    const id = this.ids.next('batch_');
    const { lines, errors } = parseBatchInput(file.content, endpoint as BatchEndpoint, id, s);
    const rng = new SeededRandom(hashParts(s.seed, 'batch', id));
    const willExpire = rng.next() < s.batchExpireRate;
    const first = lines[0]?.body.model;
    const record: BatchRecord = {
      id,
      seq: ++this.seq,
      inputFileId,
      endpoint: endpoint as BatchEndpoint,
      metadata: (metadata as Record<string, string> | null | undefined) ?? null,
      model: typeof first === 'string' ? first : null,
      createdAtMs: this.now(),
      completeAfterMs: s.batchCompleteAfterS * 1000,
      willExpire,
      expiringProcessed: Math.round(s.batchPartialRate * lines.length),
      lines,
      order: rng.shuffle(lines.map((_, i) => i)),
      validationErrors: errors,
      cancellingAtMs: undefined,
      final: undefined,
    };
    this.batches.set(id, record);
    return this.view(record);
  }

  retrieveBatch(id: string) {
    return this.view(this.getBatch(id));
  }

  /** Newest first, cursor `after` = the last id of the previous page (as OpenAI's list). */
  listBatches(after: string | undefined, limit: number) {
    const all = [...this.batches.values()].sort((a, b) => b.seq - a.seq);
    let start = 0;
    if (after !== undefined) {
      const i = all.findIndex((b) => b.id === after);
      if (i < 0)
        throw new BadRequestError(`No such Batch object to list after: ${after}`, 404, 'after', null);
      start = i + 1;
    }
    const page = all.slice(start, start + limit).map((b) => this.view(b));
    return {
      object: 'list',
      data: page,
      first_id: page[0]?.id ?? null,
      last_id: page[page.length - 1]?.id ?? null,
      has_more: start + limit < all.length,
    };
  }

  cancelBatch(id: string) {
    const b = this.getBatch(id);
    const status = this.statusAt(b, this.now());
    if (status === 'cancelling' || status === 'cancelled') return this.view(b);
    if (status === 'completed' || status === 'failed' || status === 'expired') {
      this.view(b); // finalize, so the outputs stay what they were
      throw new BadRequestError(
        `Cannot cancel a batch with status '${status}'.`,
        409,
        null,
        'batch_not_cancellable',
      );
    }
    b.cancellingAtMs = this.now();
    return this.view(b);
  }

  private getBatch(id: string): BatchRecord {
    const b = this.batches.get(id);
    if (!b) throw new BadRequestError(`No such Batch object: ${id}`, 404, 'batch_id', null);
    return b;
  }

  private statusAt(b: BatchRecord, now: number): BatchStatus {
    if (b.final) return b.final.status;
    const t = now - b.createdAtMs;
    const T = b.completeAfterMs;
    if (b.validationErrors.length > 0) return t < T * VALIDATING_END ? 'validating' : 'failed';
    if (b.cancellingAtMs !== undefined)
      return now < b.cancellingAtMs + T * CANCELLING_FRACTION ? 'cancelling' : 'cancelled';
    if (t < T * VALIDATING_END) return 'validating';
    if (b.willExpire) return t < T ? 'in_progress' : 'expired';
    if (t < T * FINALIZING_START) return 'in_progress';
    return t < T ? 'finalizing' : 'completed';
  }

  /** Requests run by time `at`: they progress linearly through the in-progress phase. */
  private processedAt(b: BatchRecord, at: number): number {
    const n = b.willExpire ? b.expiringProcessed : b.lines.length;
    const T = b.completeAfterMs;
    const start = T * VALIDATING_END;
    const span = (b.willExpire ? T : T * FINALIZING_START) - start;
    const t = at - b.createdAtMs;
    if (t < start) return 0;
    if (span <= 0 || t >= start + span) return n;
    return Math.floor(((t - start) / span) * n);
  }

  private countsAt(b: BatchRecord, at: number) {
    if (b.validationErrors.length > 0 || at - b.createdAtMs < b.completeAfterMs * VALIDATING_END) {
      return { total: 0, completed: 0, failed: 0 };
    }
    const k = this.processedAt(b, Math.min(at, b.cancellingAtMs ?? at));
    let failed = 0;
    for (let i = 0; i < k; i++) if ((b.lines[b.order[i] as number] as BatchLine).fate !== 'ok') failed++;
    return { total: b.lines.length, completed: k - failed, failed };
  }

  /** Runs the batch's requests and writes its output and error files (once). */
  private finalize(b: BatchRecord, status: FinalState['status']): FinalState {
    const T = b.completeAfterMs;
    const atMs =
      status === 'failed'
        ? b.createdAtMs + T * VALIDATING_END
        : status === 'cancelled'
          ? (b.cancellingAtMs as number) + T * CANCELLING_FRACTION
          : b.createdAtMs + T;
    if (status === 'failed') {
      return {
        status,
        atMs,
        outputFileId: null,
        errorFileId: null,
        counts: { total: 0, completed: 0, failed: 0 },
        usage: { input_tokens: 0, output_tokens: 0 },
      };
    }
    const processed =
      status === 'completed'
        ? b.lines.length
        : status === 'expired'
          ? b.expiringProcessed
          : this.processedAt(b, b.cancellingAtMs as number);
    const outputs: string[] = [];
    const errors: string[] = [];
    let inputTokens = 0;
    let outputTokens = 0;
    b.order.forEach((lineIndex, position) => {
      const line = b.lines[lineIndex] as BatchLine;
      const id = this.ids.next('batch_req_');
      if (position >= processed) {
        const code = status === 'expired' ? 'batch_expired' : 'batch_cancelled';
        const message =
          status === 'expired'
            ? 'This request could not be executed before the completion window expired.'
            : 'This request was not executed because the batch was cancelled.';
        errors.push(
          JSON.stringify({ id, custom_id: line.customId, response: null, error: { code, message } }),
        );
        return;
      }
      const requestId = this.ids.next('req_');
      const result = runBatchLine(this.lineDeps(), b.endpoint, line);
      inputTokens += result.promptTokens;
      outputTokens += result.completionTokens;
      const entry = JSON.stringify({
        id,
        custom_id: line.customId,
        response: { status_code: result.status, request_id: requestId, body: result.body },
        error: null,
      });
      (result.status === 200 ? outputs : errors).push(entry);
    });
    this.deps.metrics.addTokens(BATCH_METRICS_KEY, inputTokens, outputTokens);
    const toFile = (lines: string[], kind: string) =>
      lines.length === 0
        ? null
        : this.createFile(Buffer.from(lines.join('\n') + '\n'), `${b.id}_${kind}.jsonl`, 'batch_output').id;
    return {
      status,
      atMs,
      outputFileId: toFile(outputs, 'output'),
      errorFileId: toFile(errors, 'error'),
      counts: { total: b.lines.length, completed: outputs.length, failed: b.lines.length - outputs.length },
      usage: { input_tokens: inputTokens, output_tokens: outputTokens },
    };
  }

  private lineDeps() {
    return { engine: this.deps.engine, metrics: this.deps.metrics, ids: this.ids, now: this.now };
  }

  /** The public Batch object at this moment (finalizing the batch if it just reached a final state). */
  private view(b: BatchRecord) {
    const now = this.now();
    const status = this.statusAt(b, now);
    if (
      !b.final &&
      (status === 'completed' || status === 'failed' || status === 'expired' || status === 'cancelled')
    ) {
      b.final = this.finalize(b, status);
    }
    const T = b.completeAfterMs;
    const c = b.createdAtMs;
    const reached = (ms: number) => (ms <= now ? sec(ms) : null);
    const final = b.final;
    const validated = b.validationErrors.length === 0;
    const cancelAt = b.cancellingAtMs;
    // Phases a cancelled batch never reached must stay null.
    const before = (ms: number) => (cancelAt === undefined || ms <= cancelAt ? reached(ms) : null);
    const inProgressAt = validated ? before(c + T * VALIDATING_END) : null;
    const usage = final?.usage ?? { input_tokens: 0, output_tokens: 0 };
    return {
      id: b.id,
      object: 'batch' as const,
      endpoint: b.endpoint,
      model: b.model,
      errors: validated ? null : { object: 'list', data: b.validationErrors },
      input_file_id: b.inputFileId,
      completion_window: '24h',
      status,
      output_file_id: final?.outputFileId ?? null,
      error_file_id: final?.errorFileId ?? null,
      created_at: sec(c),
      in_progress_at: inProgressAt,
      expires_at: sec(c) + COMPLETION_WINDOW_S,
      finalizing_at: validated && !b.willExpire ? before(c + T * FINALIZING_START) : null,
      completed_at: status === 'completed' ? sec(c + T) : null,
      failed_at: status === 'failed' ? sec(c + T * VALIDATING_END) : null,
      expired_at: status === 'expired' ? sec(c + T) : null,
      cancelling_at: cancelAt === undefined ? null : sec(cancelAt),
      cancelled_at: status === 'cancelled' && final ? sec(final.atMs) : null,
      request_counts: final?.counts ?? this.countsAt(b, now),
      usage: {
        input_tokens: usage.input_tokens,
        output_tokens: usage.output_tokens,
        total_tokens: usage.input_tokens + usage.output_tokens,
        input_tokens_details: { cached_tokens: 0 },
        output_tokens_details: { reasoning_tokens: 0 },
      },
      metadata: b.metadata,
    };
  }
}
