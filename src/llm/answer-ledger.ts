// The answer ledger: one idempotency record per LOGICAL LLM call (the same on every attempt of an
// activity), holding the answer the provider was paid for. Written right after the provider
// answers, read on every attempt before calling it, whatever the cache does: an attempt whose
// completion was lost (worker killed, bookkeeping failed) is answered again from here, not paid twice.
import { createHash } from 'node:crypto';
import { GetCommand, PutCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

/** How long a paid answer is kept for retries of its call (LLM_ANSWER_LEDGER_TTL_S). */
export const DEFAULT_ANSWER_LEDGER_TTL_S = 14 * 24 * 3600;

/**
 * Bytes of payload per DynamoDB item: an item may hold 400 KB, names and metadata included. A larger
 * answer (a big batch of vectors) is split over several items.
 */
const PART_BYTES = 300_000;

/** What a paid call answered, and what it cost. */
export interface PaidAnswer {
  /** Hash of the request (cache.ts `cacheKey`): an entry answers only the request it was paid for. */
  requestKey: string;
  /** The call attempt that paid (its call record, `CALL#<callId>`). */
  paidByCallId: string;
  /** Structured calls: the answer's text. */
  content?: string;
  /** Embedding calls: one vector per text. */
  vectors?: number[][];
  promptTokens: number;
  completionTokens: number;
  /** Requests that reached the provider for this answer (0 when it came from another call). */
  providerRequests: number;
  latencyMs: number;
  model: string;
  at: number;
}

type Meta = Omit<PaidAnswer, 'content' | 'vectors'> & {
  kind: 'content' | 'vectors';
  count?: number;
  dim?: number;
};

export class AnswerLedger {
  constructor(
    private readonly ddb: DynamoDBDocumentClient,
    /** The table its entries live in (a batch with other items must write the same one). */
    readonly table: string,
    private readonly ttlSeconds = DEFAULT_ANSWER_LEDGER_TTL_S,
  ) {}

  /**
   * The answer paid for logical call `answerId` of run `runId`, if it was for this request and has
   * not expired. Read errors are thrown: calling the provider without knowing could pay twice.
   */
  async get(
    runId: string,
    answerId: string,
    requestKey: string,
    now = Date.now(),
  ): Promise<PaidAnswer | undefined> {
    const first = await this.getPart(runId, answerId, 0);
    return this.answerFrom(first, runId, answerId, requestKey, now);
  }

  /** The key of an entry's first part (read in one batch with others: call-bookkeeping.ts, consistently). */
  firstKey(runId: string, answerId: string): { PK: string; SK: string } {
    return { PK: `RUN#${runId}`, SK: partKey(answerId, 0) };
  }

  /**
   * The answer of an entry whose first part was read (undefined: none, or for another request, or
   * expired); the parts after the first, if any, are read here.
   */
  async answerFrom(
    first: Record<string, unknown> | undefined,
    runId: string,
    answerId: string,
    requestKey: string,
    now = Date.now(),
  ): Promise<PaidAnswer | undefined> {
    if (!first || first.requestKey !== requestKey) return undefined;
    // Expiry is checked here too: DynamoDB's TTL deletes lazily and dynalite not at all.
    if (Number(first.expiresAt) * 1000 <= now) return undefined;
    const parts = Number(first.parts);
    const chunks: Uint8Array[] = [(first.data as Uint8Array | undefined) ?? new Uint8Array()];
    for (let i = 1; i < parts; i++) {
      const part = await this.getPart(runId, answerId, i);
      if (!part || part.at !== first.at) return undefined; // parts of another write: not trusted
      chunks.push(part.data as Uint8Array);
    }
    return decode(first.meta as Meta, Buffer.concat(chunks));
  }

  /**
   * Keeps `answer` for `answerId`. Parts after the first go first, so a present first part means a
   * complete answer (a write cut half-way leaves nothing readable).
   */
  async put(runId: string, answerId: string, answer: PaidAnswer, now = Date.now()): Promise<void> {
    for (const Item of this.itemsOf(runId, answerId, answer, now))
      await this.ddb.send(new PutCommand({ TableName: this.table, Item }));
  }

  /**
   * The items `put` writes, in the order it writes them (the first part last). One item for any
   * structured answer; only a large one (vectors) is split.
   */
  itemsOf(runId: string, answerId: string, answer: PaidAnswer, now = Date.now()): Record<string, unknown>[] {
    const { meta, payload } = encode(answer);
    const parts = Math.max(1, Math.ceil(payload.length / PART_BYTES));
    const expiresAt = Math.floor(now / 1000) + this.ttlSeconds;
    const item = (i: number) => ({
      PK: `RUN#${runId}`,
      SK: partKey(answerId, i),
      answerId,
      requestKey: answer.requestKey,
      at: answer.at,
      part: i,
      parts,
      // An empty payload (no vectors) has no data attribute: empty binary values are refused.
      ...(payload.length ? { data: payload.subarray(i * PART_BYTES, (i + 1) * PART_BYTES) } : {}),
      expiresAt,
      ...(i === 0 ? { meta } : {}),
    });
    return Array.from({ length: parts }, (_, j) => item(parts - 1 - j));
  }

  private async getPart(runId: string, answerId: string, part: number) {
    const r = await this.ddb.send(
      new GetCommand({
        TableName: this.table,
        Key: { PK: `RUN#${runId}`, SK: partKey(answerId, part) },
        ConsistentRead: true,
      }),
    );
    return r.Item;
  }
}

/** `ANSWER#<hash of the logical call id>[#part]`: ids may hold any character, the hash never collides with a prefix. */
function partKey(answerId: string, part: number): string {
  const id = createHash('sha256').update(answerId).digest('hex').slice(0, 40);
  return part === 0 ? `ANSWER#${id}` : `ANSWER#${id}#${String(part).padStart(3, '0')}`;
}

/** Text as UTF-8; vectors as float64 (exactly what the provider sent), one after another. */
function encode(answer: PaidAnswer): { meta: Meta; payload: Buffer } {
  const { content, vectors, ...rest } = answer;
  if (vectors) {
    const dim = vectors[0]?.length ?? 0;
    if (vectors.some((v) => v.length !== dim))
      throw new Error('embedding vectors of one answer differ in length: not kept in the answer ledger');
    const flat = new Float64Array(vectors.length * dim);
    vectors.forEach((v, i) => flat.set(v, i * dim));
    return {
      meta: { ...rest, kind: 'vectors', count: vectors.length, dim },
      payload: Buffer.from(flat.buffer),
    };
  }
  return { meta: { ...rest, kind: 'content' }, payload: Buffer.from(content ?? '', 'utf8') };
}

function decode(meta: Meta, payload: Buffer): PaidAnswer {
  const { kind, count = 0, dim, ...rest } = meta;
  if (kind === 'content') return { ...rest, content: payload.toString('utf8') };
  const width = dim ?? 0;
  // A copy: the concatenated buffer's offset need not be 8-byte aligned.
  const flat = new Float64Array(new Uint8Array(payload).buffer);
  const vectors = Array.from({ length: count }, (_, i) =>
    Array.from(flat.subarray(i * width, (i + 1) * width)),
  );
  return { ...rest, vectors };
}

/** Who a ledger entry is for: the run, the attempt, and the logical call (none: no ledger). */
export interface LedgerCall {
  runId: string;
  callId: string;
  answerId?: string;
}

/** The answer this logical call already paid for, if any and if it was for this request. */
export async function paidAnswerOf(
  ledger: AnswerLedger | undefined,
  call: LedgerCall,
  requestKey: string,
): Promise<PaidAnswer | undefined> {
  if (!call.answerId || !ledger) return undefined;
  return ledger.get(call.runId, call.answerId, requestKey);
}

/** Keeps a paid answer for retries of its logical call; a failure is logged, never thrown. */
export async function keepPaidAnswer(
  ledger: AnswerLedger | undefined,
  call: LedgerCall,
  paid: PaidAnswer,
): Promise<void> {
  if (!call.answerId || !ledger) return;
  try {
    await ledger.put(call.runId, call.answerId, paid);
  } catch (err) {
    console.warn(
      `answer ledger: the paid answer of call ${call.answerId} (run ${call.runId}) could not be kept ` +
        `(${(err as Error)?.message ?? String(err)}); a retry of this call would pay for it again`,
    );
  }
}
