// The emulator's refusals and error answers, in each wire protocol's shape: rate limited, busy,
// injected status faults and server errors, bad requests.
import type http from 'node:http';
import type { Refusal } from './admission';
import { BadRequestError, ClientGoneError, sendJson, type Headers } from './http-util';
import { OLLAMA_BUSY_MESSAGE, ollamaServerErrorMessage } from './ollama-wire';
import { openAiError, serverErrorBody } from './openai-wire';
import type { EmulatorState } from './state';
import { ollamaStatusErrorMessage, openAiStatusErrorBody } from './status-faults';

export type Api = 'openai' | 'ollama';

/**
 * 503 "server busy" without Retry-After, as Ollama answers while it loads a model or when its queue is
 * full; on the OpenAI API in the shape of Ollama's OpenAI-compatible endpoint.
 */
export function sendBusy(res: http.ServerResponse, api: Api): void {
  if (api === 'ollama') return sendJson(res, 503, { error: OLLAMA_BUSY_MESSAGE });
  sendJson(res, 503, openAiError(OLLAMA_BUSY_MESSAGE, 'api_error'));
}

export function sendStatusFault(st: EmulatorState, res: http.ServerResponse, api: Api, status: number): void {
  if (api === 'ollama') return sendJson(res, status, { error: ollamaStatusErrorMessage(status) });
  sendJson(res, status, openAiStatusErrorBody(status), { 'x-request-id': st.ids.next('req_') });
}

export function sendInjectedError(
  st: EmulatorState,
  res: http.ServerResponse,
  key: string,
  api: Api,
  status: number,
): void {
  st.metrics.count(key, 'errors');
  if (api === 'openai')
    return sendJson(res, status, serverErrorBody(status), { 'x-request-id': st.ids.next('req_') });
  sendJson(res, status, { error: ollamaServerErrorMessage(status) });
}

export function sendRateLimited(
  st: EmulatorState,
  res: http.ServerResponse,
  api: Api,
  refusal: Refusal,
): void {
  const s = st.settings;
  const headers: Headers = {
    'retry-after': Math.ceil(s.retryAfterS),
    'retry-after-ms': Math.round(s.retryAfterS * 1000),
  };
  if (api === 'ollama') {
    const message =
      s.rateLimitStatus === 503 ? OLLAMA_BUSY_MESSAGE : `too many requests: ${describeRefusal(refusal)}`;
    return sendJson(res, s.rateLimitStatus, { error: message }, headers);
  }
  headers['x-ratelimit-limit-requests'] = refusal.limit;
  headers['x-ratelimit-remaining-requests'] = refusal.remaining;
  headers['x-ratelimit-reset-requests'] =
    `${Math.ceil(refusal.reason === 'rpm' ? refusal.resetMs : s.retryAfterS * 1000)}ms`;
  headers['x-request-id'] = st.ids.next('req_');
  const message = `Rate limit reached: ${describeRefusal(refusal)}. Please try again in ${s.retryAfterS}s.`;
  sendJson(res, s.rateLimitStatus, openAiError(message, 'requests', null, 'rate_limit_exceeded'), headers);
}

/** A BadRequestError as a 4xx answer (nothing for a client gone); anything else is rethrown. */
export function sendBadRequest(
  st: EmulatorState,
  res: http.ServerResponse,
  key: string,
  api: Api,
  err: unknown,
): void {
  if (err instanceof ClientGoneError) return;
  if (!(err instanceof BadRequestError)) throw err;
  st.metrics.count(key, 'badRequests');
  if (api === 'ollama') return sendJson(res, err.status, { error: err.message });
  sendJson(res, err.status, openAiError(err.message, 'invalid_request_error', err.param, err.code));
}

function describeRefusal(r: Refusal): string {
  return r.reason === 'rpm'
    ? `requests per minute (RPM): limit ${r.limit}, used ${r.limit}, requested 1`
    : `concurrent requests: limit ${r.limit} in flight`;
}
