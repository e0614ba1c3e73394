// A batch's input: the JSONL requests of its input file checked line by line as OpenAI does (a
// fate drawn per line from the seed: ok, a server error, or a 400), and one request run when the
// batch is finalized.
import type { InferenceEngine } from './engine';
import { BadRequestError, isRecord } from './http-util';
import type { MetricsRecorder } from './metrics';
import {
  chatCompletionBody,
  embeddingsBody,
  openAiError,
  parseChatCompletionRequest,
  parseEmbeddingsRequest,
  serverErrorBody,
} from './openai-wire';
import { SeededRandom, hashParts } from './random';
import type { EmulatorSettings } from './settings';
import type { IdSource } from './batch-files';

/** Endpoints a batch line may target. */
export const BATCH_ENDPOINTS = ['/v1/chat/completions', '/v1/embeddings'] as const;
export type BatchEndpoint = (typeof BATCH_ENDPOINTS)[number];
/** OpenAI's limit of requests per batch input file. */
export const MAX_BATCH_REQUESTS = 50_000;
/** Validation errors listed on a failed batch, at most. */
const MAX_LISTED_ERRORS = 100;
/** Metrics key under which batch work (tokens, malformed lines) is counted. */
export const BATCH_METRICS_KEY = '/v1/batches';

export interface BatchError {
  code: string;
  message: string;
  param: string | null;
  line: number | null;
}

export interface BatchLine {
  lineNo: number;
  customId: string;
  body: Record<string, unknown>;
  /** Decided at creation so request counts can grow while in progress without running anything. */
  fate: 'ok' | 'server_error' | { status: 400; message: string; param: string | null; code: string | null };
  malformChoice: number | undefined;
}

export interface BatchLineDeps {
  engine: InferenceEngine;
  metrics: MetricsRecorder;
  ids: IdSource;
  now: () => number;
}

/** The requests of a batch input file, each with its fate drawn, and the validation errors found. */
export function parseBatchInput(
  content: Buffer,
  endpoint: BatchEndpoint,
  batchId: string,
  s: EmulatorSettings,
) {
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
      fate: serverError ? 'server_error' : checkBody(endpoint, body),
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
function checkBody(endpoint: BatchEndpoint, body: Record<string, unknown>): BatchLine['fate'] {
  try {
    if (endpoint === '/v1/chat/completions') parseChatCompletionRequest(body);
    else parseEmbeddingsRequest(body);
    return 'ok';
  } catch (err) {
    if (!(err instanceof BadRequestError)) throw err;
    return { status: 400, message: err.message, param: err.param, code: err.code };
  }
}

/** Runs one request of a batch: its response line's status and body, and its tokens. */
export function runBatchLine(
  deps: BatchLineDeps,
  endpoint: BatchEndpoint,
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
  const created = Math.floor(deps.now() / 1000);
  if (endpoint === '/v1/chat/completions') {
    const req = parseChatCompletionRequest(line.body);
    const out = deps.engine.chat(req, line.malformChoice);
    if (out.malformed) deps.metrics.count(BATCH_METRICS_KEY, 'malformed');
    if (out.finishReason === 'length') deps.metrics.count(BATCH_METRICS_KEY, 'truncated');
    return {
      status: 200,
      body: chatCompletionBody(out, req.model, deps.ids.next('chatcmpl-'), created),
      ...out,
    };
  }
  const req = parseEmbeddingsRequest(line.body);
  const out = deps.engine.embed(req.texts, req.dimensions);
  return {
    status: 200,
    body: embeddingsBody(out, req.model, req.encoding),
    promptTokens: out.promptTokens,
    completionTokens: 0,
  };
}
