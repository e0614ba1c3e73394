// The Ollama wire protocol's routes: /api/chat, /api/embed and the legacy /api/embeddings (inference,
// through serveInference's limits and faults), /api/tags and /api/version.
import type http from 'node:http';
import { sendJson, sendText } from './http-util';
import { chatAnswerer, embedAnswerer, serveInference, type Answerer } from './inference';
import {
  ollamaChatBody,
  ollamaEmbedBody,
  ollamaTagsBody,
  parseOllamaChatRequest,
  parseOllamaEmbedRequest,
} from './ollama-wire';
import type { EmulatorState } from './state';

/** Inference routes of the Ollama API, by path (all POST). */
export function ollamaInference(
  path: string,
): ((st: EmulatorState, body: Record<string, unknown>) => Answerer) | undefined {
  if (path === '/api/chat') return ollamaChat;
  if (path === '/api/embed') return (st, body) => ollamaEmbed(st, body, false);
  if (path === '/api/embeddings') return (st, body) => ollamaEmbed(st, body, true);
  return undefined;
}

/** Serves a POST to an Ollama inference path; false when `path` is none. */
export function serveOllamaInference(
  st: EmulatorState,
  req: http.IncomingMessage,
  res: http.ServerResponse,
  path: string,
): Promise<void> | false {
  const answerer = ollamaInference(path);
  if (!answerer) return false;
  return serveInference(st, req, res, path, 'ollama', (body) => answerer(st, body));
}

/** The other /api/ routes: tags and version, else Ollama's plain 404. */
export function serveOllamaRest(
  st: EmulatorState,
  res: http.ServerResponse,
  path: string,
  method: string,
): void {
  if (path === '/api/tags' && method === 'GET') {
    st.metrics.count(path, 'requests');
    return sendJson(res, 200, ollamaTagsBody());
  }
  if (path === '/api/version' && method === 'GET') {
    st.metrics.count(path, 'requests');
    return sendJson(res, 200, { version: '0.6.4-emulator' });
  }
  st.metrics.count('(unknown)', 'requests');
  st.metrics.count('(unknown)', 'badRequests');
  sendText(res, 404, '404 page not found', 'text/plain; charset=utf-8');
}

function ollamaChat(st: EmulatorState, body: Record<string, unknown>): Answerer {
  const request = parseOllamaChatRequest(body);
  return chatAnswerer(st, '/api/chat', request, (out, res, startedAt, queuedMs) => {
    const answer = ollamaChatBody(out, request.model, performance.now() - startedAt, queuedMs);
    if (request.stream) return sendText(res, 200, JSON.stringify(answer) + '\n', 'application/x-ndjson');
    sendJson(res, 200, answer);
  });
}

function ollamaEmbed(st: EmulatorState, body: Record<string, unknown>, legacy: boolean): Answerer {
  // The legacy /api/embeddings takes one `prompt` and answers one `embedding`.
  const request = parseOllamaEmbedRequest(legacy ? { ...body, input: body.prompt } : body);
  return embedAnswerer(st, legacy ? '/api/embeddings' : '/api/embed', request, (out, res, startedAt) => {
    const answer = ollamaEmbedBody(out, request.model, performance.now() - startedAt);
    sendJson(res, 200, legacy ? { embedding: answer.embeddings[0] ?? [] } : answer);
  });
}
