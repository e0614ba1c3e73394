// The OpenAI wire protocol's routes: /v1/chat/completions and /v1/embeddings (inference, through
// serveInference's limits and faults), and the REST resources without limits or latency: models,
// files (multipart upload, content) and batches (see batches.ts).
import type http from 'node:http';
import { fileObject } from './batch-files';
import { BadRequestError, readBody, readJsonObject, sendJson, sendText, type Headers } from './http-util';
import { chatAnswerer, embedAnswerer, serveInference, type Answerer } from './inference';
import {
  chatCompletionBody,
  chatCompletionStream,
  embeddingsBody,
  parseChatCompletionRequest,
  parseEmbeddingsRequest,
} from './openai-wire';
import { sendBadRequest } from './responses';
import type { EmulatorState } from './state';

/** Biggest page `GET /v1/batches` returns (OpenAI's limit). */
const MAX_LIST_LIMIT = 100;
const DEFAULT_LIST_LIMIT = 20;

/** Serves a POST to an OpenAI inference path; false when `path` is none. */
export function serveOpenAiInference(
  st: EmulatorState,
  req: http.IncomingMessage,
  res: http.ServerResponse,
  path: string,
): Promise<void> | false {
  if (path === '/v1/chat/completions')
    return serveInference(st, req, res, path, 'openai', (b) => openAiChat(st, b));
  if (path === '/v1/embeddings')
    return serveInference(st, req, res, path, 'openai', (b) => openAiEmbeddings(st, b));
  return false;
}

function openAiChat(st: EmulatorState, body: Record<string, unknown>): Answerer {
  const request = parseChatCompletionRequest(body);
  return chatAnswerer(st, '/v1/chat/completions', request, (out, res, startedAt) => {
    const id = st.ids.next('chatcmpl-');
    const created = Math.floor(Date.now() / 1000);
    const headers = openAiHeaders(st, startedAt);
    if (request.stream) {
      return sendText(
        res,
        200,
        chatCompletionStream(out, request.model, id, created, request.includeUsage),
        'text/event-stream; charset=utf-8',
        headers,
      );
    }
    sendJson(res, 200, chatCompletionBody(out, request.model, id, created), headers);
  });
}

function openAiEmbeddings(st: EmulatorState, body: Record<string, unknown>): Answerer {
  const request = parseEmbeddingsRequest(body);
  return embedAnswerer(st, '/v1/embeddings', request, (out, res, startedAt) =>
    sendJson(res, 200, embeddingsBody(out, request.model, request.encoding), openAiHeaders(st, startedAt)),
  );
}

function openAiHeaders(st: EmulatorState, startedAt: number): Headers {
  const headers: Headers = {
    'x-request-id': st.ids.next('req_'),
    'openai-processing-ms': Math.round(performance.now() - startedAt),
  };
  if (st.settings.rpm > 0) {
    headers['x-ratelimit-limit-requests'] = st.settings.rpm;
    headers['x-ratelimit-remaining-requests'] = Math.max(0, st.settings.rpm - st.admission.windowCount());
  }
  return headers;
}

// ---- OpenAI files, batches, models: no limits, no latency ----

interface RestRequest {
  req: http.IncomingMessage;
  res: http.ServerResponse;
  method: string;
  query: string;
  id: string | undefined;
  sub: string | undefined;
}

/** Serves a /v1/ route other than inference (models, files, batches); 404 for the rest. */
export async function serveOpenAiRest(
  st: EmulatorState,
  req: http.IncomingMessage,
  res: http.ServerResponse,
  path: string,
  method: string,
  query: string,
): Promise<void> {
  const parts = path.split('/').filter(Boolean); // ['v1', 'files', id?, 'content'?]
  const resource = parts[1];
  const r: RestRequest = {
    req,
    res,
    method,
    query,
    id: parts[2] ? decodeURIComponent(parts[2]) : undefined,
    sub: parts[3],
  };
  const key = `/v1/${resource ?? ''}${r.id ? '/{id}' : ''}${r.sub ? `/${r.sub}` : ''}`;
  st.metrics.count(key, 'requests');
  try {
    if (resource === 'models' && method === 'GET' && !r.id) return sendJson(res, 200, modelList());
    if (resource === 'files' && (await serveFiles(st, r))) return;
    if (resource === 'batches' && (await serveBatches(st, r))) return;
    throw new BadRequestError(`Invalid URL (${method} ${path})`, 404);
  } catch (err) {
    sendBadRequest(st, res, key, 'openai', err);
  }
}

function modelList() {
  return {
    object: 'list',
    data: ['gpt-4o-mini', 'text-embedding-3-small'].map((m) => ({
      id: m,
      object: 'model',
      created: 1_700_000_000,
      owned_by: 'emulator',
    })),
  };
}

/** /v1/files routes; false when none matches. */
async function serveFiles(
  st: EmulatorState,
  { req, res, method, query, id, sub }: RestRequest,
): Promise<boolean> {
  if (!id && method === 'POST') sendJson(res, 200, fileObject(await uploadFile(st, req)));
  else if (!id && method === 'GET') {
    const purpose = new URLSearchParams(query).get('purpose') ?? undefined;
    const data = st.batches.listFiles(purpose).map(fileObject);
    sendJson(res, 200, {
      object: 'list',
      data,
      first_id: data[0]?.id ?? null,
      last_id: data.at(-1)?.id ?? null,
      has_more: false,
    });
  } else if (id && !sub && method === 'GET') sendJson(res, 200, fileObject(st.batches.getFile(id)));
  else if (id && !sub && method === 'DELETE') sendJson(res, 200, st.batches.deleteFile(id));
  else if (id && sub === 'content' && method === 'GET')
    sendText(res, 200, st.batches.getFile(id).content, 'application/octet-stream');
  else return false;
  return true;
}

/** /v1/batches routes; false when none matches. */
async function serveBatches(
  st: EmulatorState,
  { req, res, method, query, id, sub }: RestRequest,
): Promise<boolean> {
  if (!id && method === 'POST') sendJson(res, 200, st.batches.createBatch(await readJsonObject(req)));
  else if (!id && method === 'GET') {
    const params = new URLSearchParams(query);
    const limit = parseLimit(params.get('limit'));
    sendJson(res, 200, st.batches.listBatches(params.get('after') ?? undefined, limit));
  } else if (id && !sub && method === 'GET') sendJson(res, 200, st.batches.retrieveBatch(id));
  else if (id && sub === 'cancel' && method === 'POST') sendJson(res, 200, st.batches.cancelBatch(id));
  else return false;
  return true;
}

async function uploadFile(st: EmulatorState, req: http.IncomingMessage) {
  const raw = await readBody(req);
  const contentType = req.headers['content-type'] ?? '';
  if (!contentType.startsWith('multipart/form-data')) {
    throw new BadRequestError(
      'Uploads must be multipart/form-data with fields "file" and "purpose".',
      400,
      'file',
    );
  }
  let form: FormData;
  try {
    form = await new Request('http://emulator.local/v1/files', {
      method: 'POST',
      headers: { 'content-type': contentType },
      body: raw,
    }).formData();
  } catch (err) {
    throw new BadRequestError(`Could not parse the multipart body: ${(err as Error).message}`, 400, 'file');
  }
  const file = form.get('file');
  const purpose = form.get('purpose');
  if (file === null || typeof file === 'string')
    throw new BadRequestError(
      "Missing required parameter: 'file'.",
      400,
      'file',
      'missing_required_parameter',
    );
  if (typeof purpose !== 'string')
    throw new BadRequestError(
      "Missing required parameter: 'purpose'.",
      400,
      'purpose',
      'missing_required_parameter',
    );
  return st.batches.createFile(Buffer.from(await file.arrayBuffer()), file.name || 'upload.jsonl', purpose);
}

function parseLimit(raw: string | null): number {
  if (raw === null) return DEFAULT_LIST_LIMIT;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > MAX_LIST_LIMIT) {
    throw new BadRequestError(
      `Invalid 'limit': expected an integer in 1..${MAX_LIST_LIMIT}.`,
      400,
      'limit',
      'invalid_value',
    );
  }
  return n;
}
