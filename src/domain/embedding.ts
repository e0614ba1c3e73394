// Pure parts of the embedding pipeline (seed 003): batch keys, the custom_id codec, NDJSON request
// lines for the OpenAI Batch API, batches cut to the API's limits, and the join of output/error files.

/** What gets embedded: a receipt line or a word; each kind has its own Chroma collection. */
export const EMBED_KINDS = ['LINE', 'WORD'] as const;
export type EmbedKind = (typeof EMBED_KINDS)[number];

/** OpenAI Batch API limits per input file. */
export const BATCH_API_MAX_REQUESTS = 50_000;
export const BATCH_API_MAX_BYTES = 200 * 1024 * 1024;
export const EMBEDDINGS_ENDPOINT = '/v1/embeddings';

export interface BatchLimits {
  /** Requests per batch file. @default 50_000 (the API's limit) */
  maxRequests: number;
  /** Bytes per batch file. @default 200 MB (the API's limit) */
  maxBytes: number;
}

/** Thrown for a malformed custom_id or batch key: bad input, never retried. */
export class EmbeddingInputError extends Error {
  override name = 'EmbeddingInputError';
}

const KIND_TAG: Record<EmbedKind, string> = { LINE: 'line', WORD: 'word' };

/**
 * Batch key = `<runId>/<kind>-<seq>`: deterministic, so a retried submission finds its own record.
 * The run id may contain `/`; the key is split at the last one.
 */
export function batchKeyOf(runId: string, kind: EmbedKind, seq: number): string {
  return `${runId}/${KIND_TAG[kind]}-${String(seq).padStart(5, '0')}`;
}

export function parseBatchKey(batchKey: string): { runId: string; kind: EmbedKind; seq: number } {
  const slash = batchKey.lastIndexOf('/');
  const m = /^(line|word)-(\d+)$/.exec(batchKey.slice(slash + 1));
  if (slash <= 0 || !m)
    throw new EmbeddingInputError(`Malformed embedding batch key ${JSON.stringify(batchKey)}`);
  return { runId: batchKey.slice(0, slash), kind: m[1] === 'line' ? 'LINE' : 'WORD', seq: Number(m[2]) };
}

/** custom_id of one request: `line:<lineId>` or `word:<wordId>` (ids never need escaping). */
export function encodeCustomId(kind: EmbedKind, id: string): string {
  return `${KIND_TAG[kind]}:${id}`;
}

export function decodeCustomId(customId: string): { kind: EmbedKind; id: string } {
  const colon = customId.indexOf(':');
  const tag = customId.slice(0, colon);
  const id = customId.slice(colon + 1);
  if (colon < 0 || id === '' || (tag !== 'line' && tag !== 'word'))
    throw new EmbeddingInputError(`Malformed custom_id ${JSON.stringify(customId)}`);
  return { kind: tag === 'line' ? 'LINE' : 'WORD', id };
}

export interface EmbedRequestLine {
  custom_id: string;
  method: 'POST';
  url: typeof EMBEDDINGS_ENDPOINT;
  body: { model: string; input: string; encoding_format: 'float' };
}

/** One line of the Batch API input file (NDJSON), with its trailing newline. */
export function requestLine(kind: EmbedKind, id: string, text: string, model: string): string {
  const line: EmbedRequestLine = {
    custom_id: encodeCustomId(kind, id),
    method: 'POST',
    url: EMBEDDINGS_ENDPOINT,
    body: { model, input: text, encoding_format: 'float' },
  };
  return JSON.stringify(line) + '\n';
}

/** Applies the API's ceilings to configured limits, so a config can only make batches smaller. */
export function effectiveLimits(limits: Partial<BatchLimits> = {}): BatchLimits {
  const clamp = (v: number | undefined, max: number) =>
    v === undefined || !Number.isFinite(v) || v < 1 ? max : Math.min(Math.floor(v), max);
  return {
    maxRequests: clamp(limits.maxRequests, BATCH_API_MAX_REQUESTS),
    maxBytes: clamp(limits.maxBytes, BATCH_API_MAX_BYTES),
  };
}

/**
 * Cuts request lines into batch files that respect both limits, in order. A single line larger
 * than `maxBytes` cannot be sent at all: it is returned in `oversized` instead.
 */
export function chunkRequestLines<T extends { line: string }>(
  items: readonly T[],
  limits: BatchLimits,
): { batches: T[][]; oversized: T[] } {
  const batches: T[][] = [];
  const oversized: T[] = [];
  let current: T[] = [];
  let bytes = 0;
  for (const item of items) {
    const size = Buffer.byteLength(item.line);
    if (size > limits.maxBytes) {
      oversized.push(item);
      continue;
    }
    if (current.length >= limits.maxRequests || bytes + size > limits.maxBytes) {
      batches.push(current);
      current = [];
      bytes = 0;
    }
    current.push(item);
    bytes += size;
  }
  if (current.length) batches.push(current);
  return { batches, oversized };
}

/** The final status of a batch, as the Batch API names it. */
export type BatchStatus =
  | 'validating'
  | 'failed'
  | 'in_progress'
  | 'finalizing'
  | 'completed'
  | 'expired'
  | 'cancelling'
  | 'cancelled';

export const BATCH_FINAL_STATUSES: readonly BatchStatus[] = ['completed', 'expired', 'cancelled', 'failed'];

export function isFinalBatchStatus(status: string): boolean {
  return (BATCH_FINAL_STATUSES as readonly string[]).includes(status);
}

export interface JoinedResults {
  /** custom_id -> vector, for requests answered 200 with a valid embedding. */
  embedded: Map<string, number[]>;
  /** custom_id -> why it has no vector (error file, non-200 answer, malformed embedding). */
  errors: Map<string, string>;
  /** Requests sent that appear in neither file (e.g. after an expiry). */
  missing: string[];
  /** custom_ids in the files that were never sent (ignored, reported). */
  unknown: string[];
}

/**
 * Joins a batch's result lines with the custom_ids sent, one line at a time, so a result file of any
 * size streams through (a 50,000-request batch of 1536-dim vectors is over a gigabyte of JSON). Feed the
 * output file, then the error file: an output line wins over an error line for the same request;
 * unparseable lines are skipped (their request then shows up as missing).
 */
export class BatchResultJoiner {
  private readonly sent: readonly string[];
  private readonly sentSet: Set<string>;
  private readonly embeddedIds = new Set<string>();
  private readonly errors = new Map<string, string>();
  private readonly unknown: string[] = [];

  constructor(
    sent: readonly string[],
    private readonly expectedDim?: number,
  ) {
    this.sent = sent;
    this.sentSet = new Set(sent);
  }

  /** Reads one NDJSON line; returns the vector when the line newly embeds a request sent. */
  addLine(raw: string): { customId: string; vector: number[] } | undefined {
    if (raw.trim() === '') return undefined;
    let entry: BatchResultLine;
    try {
      entry = JSON.parse(raw) as BatchResultLine;
    } catch {
      return undefined;
    }
    const customId = typeof entry?.custom_id === 'string' ? entry.custom_id : undefined;
    if (customId === undefined) return undefined;
    if (!this.sentSet.has(customId)) {
      this.unknown.push(customId);
      return undefined;
    }
    if (this.embeddedIds.has(customId)) return undefined;
    const outcome = readResultLine(entry, this.expectedDim);
    if ('vector' in outcome) {
      this.embeddedIds.add(customId);
      this.errors.delete(customId);
      return { customId, vector: outcome.vector };
    }
    if (!this.errors.has(customId)) this.errors.set(customId, outcome.reason);
    return undefined;
  }

  finish(): Omit<JoinedResults, 'embedded'> & { embeddedIds: ReadonlySet<string> } {
    const missing = this.sent.filter((id) => !this.embeddedIds.has(id) && !this.errors.has(id));
    return { embeddedIds: this.embeddedIds, errors: this.errors, missing, unknown: this.unknown };
  }
}

/** The whole join over in-memory files (small batches, tests). */
export function joinBatchResults(
  sent: readonly string[],
  outputNdjson: string,
  errorNdjson: string,
  expectedDim?: number,
): JoinedResults {
  const joiner = new BatchResultJoiner(sent, expectedDim);
  const embedded = new Map<string, number[]>();
  for (const text of [outputNdjson, errorNdjson]) {
    for (const raw of text.split(/\r?\n/)) {
      const got = joiner.addLine(raw);
      if (got) embedded.set(got.customId, got.vector);
    }
  }
  const { errors, missing, unknown } = joiner.finish();
  return { embedded, errors, missing, unknown };
}

interface BatchResultLine {
  custom_id?: unknown;
  response?: { status_code?: unknown; body?: unknown } | null;
  error?: { code?: unknown; message?: unknown } | null;
}

function readResultLine(
  entry: BatchResultLine,
  expectedDim: number | undefined,
): { vector: number[] } | { reason: string } {
  if (entry.error) {
    return { reason: `${String(entry.error.code ?? 'error')}: ${String(entry.error.message ?? '')}`.trim() };
  }
  const status = Number(entry.response?.status_code);
  const body = entry.response?.body as
    { data?: Array<{ embedding?: unknown }>; error?: { message?: unknown } } | undefined;
  if (status !== 200) {
    const message = body?.error?.message;
    return {
      reason: `HTTP ${Number.isFinite(status) ? status : '?'}${message ? `: ${String(message)}` : ''}`,
    };
  }
  const vector = decodeEmbedding(body?.data?.[0]?.embedding);
  if (!vector) return { reason: 'malformed embedding in the batch output' };
  if (expectedDim !== undefined && vector.length !== expectedDim)
    return { reason: `embedding has ${vector.length} dimensions, expected ${expectedDim}` };
  return { vector };
}

/** `encoding_format: float` (a number array) or `base64` (little-endian float32). */
export function decodeEmbedding(value: unknown): number[] | undefined {
  if (Array.isArray(value)) {
    return value.length > 0 && value.every((x) => typeof x === 'number' && Number.isFinite(x))
      ? (value as number[])
      : undefined;
  }
  if (typeof value === 'string' && value.length > 0) {
    const buf = Buffer.from(value, 'base64');
    if (buf.length === 0 || buf.length % 4 !== 0) return undefined;
    const out: number[] = [];
    for (let i = 0; i < buf.length; i += 4) out.push(buf.readFloatLE(i));
    return out.every(Number.isFinite) ? out : undefined;
  }
  return undefined;
}

/** Poll delays: `initialMs`, times `factor` after each poll, capped at `maxMs`. */
export function nextPollDelay(currentMs: number, factor: number, maxMs: number): number {
  return Math.min(maxMs, Math.max(1, Math.round(currentMs * factor)));
}

/** One record of a delta file: what the compactor upserts into Chroma. */
export interface DeltaRecord {
  kind: EmbedKind;
  id: string;
  vector: number[];
  document: string;
  metadata: Record<string, string | number | boolean>;
}

export function deltaToNdjson(records: readonly DeltaRecord[]): string {
  return records.map((r) => JSON.stringify(r)).join('\n') + (records.length ? '\n' : '');
}

export function parseDeltaNdjson(text: string): DeltaRecord[] {
  const out: DeltaRecord[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    if (raw.trim() === '') return;
    let r: DeltaRecord;
    try {
      r = JSON.parse(raw) as DeltaRecord;
    } catch {
      throw new EmbeddingInputError(`delta line ${i + 1} is not JSON`);
    }
    if (
      (r.kind !== 'LINE' && r.kind !== 'WORD') ||
      typeof r.id !== 'string' ||
      !Array.isArray(r.vector) ||
      typeof r.document !== 'string'
    )
      throw new EmbeddingInputError(`delta line ${i + 1} is not a delta record`);
    out.push(r);
  });
  return out;
}

/**
 * Settings of the embedding workflows. The worker reads them from its environment (EMBED_* in
 * src/config.ts) and hands them to the workflows through a local activity, so they are recorded in
 * history; a run's input may override any of them.
 */
export interface EmbedSettings {
  /** Embedding model named in each request line. @default 'text-embedding-3-small' */
  model: string;
  /** Requests per batch file (at most the API's 50,000). @default 50_000 */
  maxRequestsPerBatch: number;
  /** Bytes per batch file (at most the API's 200 MB). @default 209_715_200 */
  maxBytesPerBatch: number;
  /** First delay between two polls of a batch. @default 30_000 */
  pollInitialMs: number;
  /** Longest delay between two polls. @default 600_000 */
  pollMaxMs: number;
  /** Each delay is the previous one times this. @default 2 */
  pollBackoff: number;
  /** A poll workflow continues as new after this many polls (bounds its history). @default 100 */
  pollsPerRun: number;
  /** A poll workflow gives up on a batch it cannot check for this long, and releases its items. @default 26 h */
  pollGiveUpMs: number;
  /** Tries per item: after this many failed batches an item is FAILED with the last reason. @default 3 */
  maxAttempts: number;
  /** Submission rounds of one backfill (a round resubmits what the previous one released). @default 5 */
  maxRounds: number;
  /** How long a waiting backfill trusts its pollers' signals before it re-reads the batch records. @default 600_000 */
  reconcileMs: number;
  /** Workflow id of the one compactor: the id is the lock. @default 'embed-compactor' */
  compactorId: string;
  /** Records per Chroma upsert (one heartbeat each). @default 500 */
  compactChunkSize: number;
  /** Records per delta part file in S3 (a batch's delta is written and applied part by part). @default 1_000 */
  deltaPartRecords: number;
  /** A compactor with nothing to do waits this long for more requests, then ends. @default 10_000 */
  compactIdleMs: number;
  /** The compactor continues as new after this many rounds. @default 50 */
  compactRoundsPerRun: number;
  /** Export the Chroma collections to S3 `snapshots/` after a compaction round. @default false */
  snapshot: boolean;
  /** Delete a delta's S3 object once it is applied. @default false */
  deleteAppliedDeltas: boolean;
  /** Heartbeat timeout of the long embedding activities (a dead worker's attempt is retried after it). @default 60_000 */
  heartbeatTimeoutMs: number;
  /**
   * Attempts of the heavy data activities (results -> delta, compaction) before the workflow sees the
   * failure (a long outage). Optional: settings recorded before it existed mean the default. @default 50
   */
  dataMaxAttempts?: number;
  /**
   * A backfill waiting for its pollers or its deltas continues as new after this many wake-ups (or
   * sooner when Temporal suggests it), so its history stays bounded however long it waits.
   * Optional: settings recorded before it existed mean the default. @default 200
   */
  waitsPerRun?: number;
}

/** Default of `EmbedSettings.waitsPerRun`. */
export const DEFAULT_WAITS_PER_RUN = 200;

export const DEFAULT_EMBED_SETTINGS: Readonly<EmbedSettings> = Object.freeze({
  model: 'text-embedding-3-small',
  maxRequestsPerBatch: BATCH_API_MAX_REQUESTS,
  maxBytesPerBatch: BATCH_API_MAX_BYTES,
  pollInitialMs: 30_000,
  pollMaxMs: 600_000,
  pollBackoff: 2,
  pollsPerRun: 100,
  pollGiveUpMs: 26 * 3600_000,
  maxAttempts: 3,
  maxRounds: 5,
  reconcileMs: 600_000,
  compactorId: 'embed-compactor',
  compactChunkSize: 500,
  deltaPartRecords: 1_000,
  compactIdleMs: 10_000,
  compactRoundsPerRun: 50,
  snapshot: false,
  deleteAppliedDeltas: false,
  heartbeatTimeoutMs: 60_000,
  dataMaxAttempts: 50,
  waitsPerRun: DEFAULT_WAITS_PER_RUN,
});
