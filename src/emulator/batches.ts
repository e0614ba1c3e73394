// OpenAI Files and Batch API state. A batch's status is derived from the clock (created_at and the
// completion time it was created with), so no timers run; outputs are produced once, when a batch is
// first seen in a final state.
import { type InferenceEngine } from './engine';
import { BadRequestError, isRecord } from './http-util';
import { type MetricsRecorder } from './metrics';
import {
  chatCompletionBody,
  embeddingsBody,
  openAiError,
  parseChatCompletionRequest,
  parseEmbeddingsRequest,
  serverErrorBody,
} from './openai-wire';
import { SeededRandom, hashParts, hex8 } from './random';
import { type EmulatorSettings } from './settings';

/** Endpoints a batch line may target. */
export const BATCH_ENDPOINTS = ['/v1/chat/completions', '/v1/embeddings'] as const;
export type BatchEndpoint = (typeof BATCH_ENDPOINTS)[number];
/** OpenAI's limit of requests per batch input file. */
export const MAX_BATCH_REQUESTS = 50_000;
/** Validation errors listed on a failed batch, at most. */
const MAX_LISTED_ERRORS = 100;
/** Phases as fractions of the completion time: validating until 10 %, finalizing from 90 %. */
const VALIDATING_END = 0.1;
const FINALIZING_START = 0.9;
/** A cancel takes this fraction of the completion time to become `cancelled`. */
const CANCELLING_FRACTION = 0.1;
const COMPLETION_WINDOW_S = 24 * 3600;
/** Metrics key under which batch work (tokens, malformed lines) is counted. */
export const BATCH_METRICS_KEY = '/v1/batches';

export const FILE_PURPOSES = [
  'batch',
  'batch_output',
  'fine-tune',
  'assistants',
  'user_data',
  'evals',
  'vision',
] as const;

export interface StoredFile {
  id: string;
  object: 'file';
  bytes: number;
  created_at: number;
  filename: string;
  purpose: string;
  status: 'processed';
  status_details: null;
  expires_at: number | null;
  content: Buffer;
}

export type BatchStatus =
  | 'validating'
  | 'failed'
  | 'in_progress'
  | 'finalizing'
  | 'completed'
  | 'expired'
  | 'cancelling'
  | 'cancelled';

export interface BatchError {
  code: string;
  message: string;
  param: string | null;
  line: number | null;
}

interface BatchLine {
  lineNo: number;
  customId: string;
  body: Record<string, unknown>;
  /** Decided at creation so request counts can grow while in progress without running anything. */
  fate: 'ok' | 'server_error' | { status: 400; message: string; param: string | null; code: string | null };
  malformChoice: number | undefined;
}

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

/** Unique ids that look like OpenAI's: a hash (of this process's start and a counter) plus the counter. */
export class IdSource {
  private n = 0;
  constructor(private readonly salt = Date.now()) {}
  next(prefix: string): string {
    this.n++;
    return `${prefix}${hex8(hashParts(this.salt, prefix, this.n))}${this.n.toString(16).padStart(6, '0')}`;
  }
}

export function fileObject(f: StoredFile) {
  return {
    id: f.id,
    object: f.object,
    bytes: f.bytes,
    created_at: f.created_at,
    filename: f.filename,
    purpose: f.purpose,
    status: f.status,
    status_details: f.status_details,
    expires_at: f.expires_at,
  };
}

const sec = (ms: number) => Math.floor(ms / 1000);

export interface BatchStoreDeps {
  engine: InferenceEngine;
  settings: () => EmulatorSettings;
  metrics: MetricsRecorder;
  ids?: IdSource;
  now?: () => number;
}

export class BatchStore {
  private readonly files = new Map<string, StoredFile>();
  private readonly batches = new Map<string, BatchRecord>();
  private seq = 0;
  private readonly ids: IdSource;
  private readonly now: () => number;

  constructor(private readonly deps: BatchStoreDeps) {
    this.ids = deps.ids ?? new IdSource();
    this.now = deps.now ?? Date.now;
  }

  // ---- files ----

  createFile(content: Buffer, filename: string, purpose: string): StoredFile {
    if (!(FILE_PURPOSES as readonly string[]).includes(purpose)) {
      throw new BadRequestError(
        `Invalid purpose '${purpose}'. Expected one of: ${FILE_PURPOSES.join(', ')}.`,
        400,
        'purpose',
        'invalid_value',
      );
    }
    const file: StoredFile = {
      id: this.ids.next('file-'),
      object: 'file',
      bytes: content.length,
      created_at: sec(this.now()),
      filename,
      purpose,
      status: 'processed',
      status_details: null,
      expires_at: null,
      content,
    };
    this.files.set(file.id, file);
    return file;
  }

  getFile(id: string): StoredFile {
    const f = this.files.get(id);
    if (!f) throw new BadRequestError(`No such File object: ${id}`, 404, 'id', null);
    return f;
  }

  listFiles(purpose?: string): StoredFile[] {
    return [...this.files.values()].filter((f) => purpose === undefined || f.purpose === purpose).reverse();
  }

  deleteFile(id: string): { id: string; object: 'file'; deleted: true } {
    this.getFile(id);
    this.files.delete(id);
    return { id, object: 'file', deleted: true };
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
    const { lines, errors } = this.parseInputFile(file.content, endpoint as BatchEndpoint, id, s);
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

  private parseInputFile(content: Buffer, endpoint: BatchEndpoint, batchId: string, s: EmulatorSettings) {
    const lines: BatchLine[] = [];
    const errors: BatchError[] = [];
    const seen = new Set<string>();
    const fail = (lineNo: number | null, code: string, message: string, param: string | null = null) => {
      errors.push({ code, message, param, line: lineNo });
    };
    const rawLines = content.toString('utf8').split(/\r?\n/);
    rawLines.forEach((raw, i) => {
      const lineNo = i + 1;
      if (raw.trim() === '') return;
      let value: unknown;
      try {
        value = JSON.parse(raw);
      } catch {
        return fail(lineNo, 'invalid_json_line', 'This line is not parseable as valid JSON.');
      }
      if (!isRecord(value)) return fail(lineNo, 'invalid_json_line', 'Each line must be a JSON object.');
      const { custom_id: customId, method, url, body } = value;
      if (typeof customId !== 'string' || customId === '')
        return fail(
          lineNo,
          'missing_required_parameter',
          "Missing required parameter: 'custom_id'.",
          'custom_id',
        );
      if (seen.has(customId))
        return fail(
          lineNo,
          'duplicate_custom_id',
          `The custom_id '${customId}' is used more than once; custom_id values must be unique.`,
          'custom_id',
        );
      seen.add(customId);
      if (method !== 'POST')
        return fail(lineNo, 'invalid_method', "Only method 'POST' is supported.", 'method');
      if (url !== endpoint)
        return fail(
          lineNo,
          'mismatched_url',
          `The url '${String(url)}' does not match the batch endpoint '${endpoint}'.`,
          'url',
        );
      if (!isRecord(body))
        return fail(
          lineNo,
          'missing_required_parameter',
          "Missing required parameter: 'body' (an object).",
          'body',
        );
      const draw = new SeededRandom(hashParts(s.seed, batchId, customId));
      const serverError = draw.next() < s.errorRate;
      const malformed = draw.next() < s.malformedRate;
      const malformChoice = draw.next();
      lines.push({
        lineNo,
        customId,
        body,
        fate: serverError ? 'server_error' : this.checkBody(endpoint, body),
        malformChoice: malformed && endpoint === '/v1/chat/completions' ? malformChoice : undefined,
      });
    });
    if (errors.length === 0 && lines.length === 0)
      fail(null, 'empty_file', 'The input file holds no requests.');
    if (lines.length > MAX_BATCH_REQUESTS)
      fail(
        null,
        'too_many_requests',
        `The input file holds ${lines.length} requests; at most ${MAX_BATCH_REQUESTS} are allowed.`,
      );
    return { lines, errors: errors.slice(0, MAX_LISTED_ERRORS) };
  }

  /** A line whose body would be a 400 gets a 400 response line, as OpenAI does. */
  private checkBody(endpoint: BatchEndpoint, body: Record<string, unknown>): BatchLine['fate'] {
    try {
      if (endpoint === '/v1/chat/completions') parseChatCompletionRequest(body);
      else parseEmbeddingsRequest(body);
      return 'ok';
    } catch (err) {
      if (!(err instanceof BadRequestError)) throw err;
      return { status: 400, message: err.message, param: err.param, code: err.code };
    }
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
      const result = this.runLine(b, line);
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

  private runLine(
    b: BatchRecord,
    line: BatchLine,
  ): { status: number; body: unknown; promptTokens: number; completionTokens: number } {
    const fate = line.fate;
    if (fate === 'server_error')
      return { status: 500, body: serverErrorBody(500), promptTokens: 0, completionTokens: 0 };
    if (fate !== 'ok') {
      return {
        status: 400,
        body: openAiError(fate.message, 'invalid_request_error', fate.param, fate.code),
        promptTokens: 0,
        completionTokens: 0,
      };
    }
    const created = sec(this.now());
    if (b.endpoint === '/v1/chat/completions') {
      const req = parseChatCompletionRequest(line.body);
      const out = this.deps.engine.chat(req, line.malformChoice);
      if (out.malformed) this.deps.metrics.count(BATCH_METRICS_KEY, 'malformed');
      if (out.finishReason === 'length') this.deps.metrics.count(BATCH_METRICS_KEY, 'truncated');
      return {
        status: 200,
        body: chatCompletionBody(out, req.model, this.ids.next('chatcmpl-'), created),
        ...out,
      };
    }
    const req = parseEmbeddingsRequest(line.body);
    const out = this.deps.engine.embed(req.texts, req.dimensions);
    return {
      status: 200,
      body: embeddingsBody(out, req.model, req.encoding),
      promptTokens: out.promptTokens,
      completionTokens: 0,
    };
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
