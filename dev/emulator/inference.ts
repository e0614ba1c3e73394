// One inference request through the emulator: admission (rpm and concurrency limits), model
// loading, a drawn fate (status fault, timeout, latency, injected error, malformed answer), then
// the answer, directly or through the queueing model's slots.
import type http from 'node:http';
import { drawFaults, type ChatInput, type ChatOutput, type EmbedOutput, type FaultDraw } from './engine';
import { readJsonObject } from './http-util';
import {
  sendBadRequest,
  sendBusy,
  sendInjectedError,
  sendRateLimited,
  sendStatusFault,
  type Api,
} from './responses';
import { soloWorkMs } from './service-time';
import type { EmulatorState } from './state';
import { drawStatusFault } from './status-faults';

/** The answer to an inference request: its token counts (which set its service time) and how to send it. */
export interface Answer {
  promptTokens: number;
  completionTokens: number;
  /** `queuedMs`: how long the request waited for a slot (the queueing model), which Ollama reports. */
  send(res: http.ServerResponse, startedAt: number, queuedMs?: number): void;
}
/** A parsed inference request: runs the engine, given the request's drawn fate, when its answer is due. */
export type Answerer = (draw: FaultDraw) => Answer;

/** Serves one inference request of `api` at metrics key `key`; `prepare` parses its body. */
export async function serveInference(
  st: EmulatorState,
  req: http.IncomingMessage,
  res: http.ServerResponse,
  key: string,
  api: Api,
  prepare: (body: Record<string, unknown>) => Answerer,
): Promise<void> {
  st.metrics.count(key, 'requests');
  const s = st.settings;
  const queueing = s.providerModel === 'queueing';
  // The queueing model never refuses for concurrency: its slots and queue decide further down.
  const maxConcurrency = queueing ? Number.POSITIVE_INFINITY : s.maxConcurrency;
  const refusal = st.admission.tryAdmit(st.metrics.inFlight, maxConcurrency, s.rpm);
  if (refusal) {
    st.metrics.count(key, 'rateLimited');
    return sendRateLimited(st, res, api, refusal);
  }
  if (st.loading()) {
    st.metrics.count(key, 'modelLoading');
    return sendBusy(res, api);
  }
  if (!queueing) {
    st.metrics.enter();
    // 'close' fires once, whether the answer was sent or the connection died: the slot is freed either way.
    res.once('close', () => st.metrics.leave());
  }
  const startedAt = performance.now();

  let answerer: Answerer;
  try {
    const body = await readJsonObject(req);
    const status = drawStatusFault(st.faultRng, st.settings);
    if (status !== undefined) {
      st.metrics.count(key, 'statusFaults');
      return sendStatusFault(st, res, api, status);
    }
    answerer = prepare(body);
  } catch (err) {
    return sendBadRequest(st, res, key, api, err);
  }
  const draw = drawFaults(st.faultRng, st.settings);
  if (draw.timeout) {
    st.metrics.count(key, 'timeouts');
    await st.wait(st.settings.timeoutMs);
    req.socket.destroy();
    return;
  }
  if (queueing) return serveQueued(st, res, key, api, answerer(draw), draw, startedAt);
  if (draw.latencyMs > 0) await st.wait(draw.latencyMs);
  if (res.destroyed) return;
  if (draw.errorStatus !== undefined) return sendInjectedError(st, res, key, api, draw.errorStatus);
  answerer(draw).send(res, startedAt);
}

/**
 * Queueing model: waits in FIFO order for a slot (503 when the queue is full), then spends the fixed
 * overhead and the token work in it. A client that goes away frees its queue place or its slot.
 */
async function serveQueued(
  st: EmulatorState,
  res: http.ServerResponse,
  key: string,
  api: Api,
  answer: Answer,
  draw: FaultDraw,
  startedAt: number,
): Promise<void> {
  const clientGone = new AbortController();
  res.once('close', () => clientGone.abort());
  if (res.destroyed || res.socket?.destroyed) clientGone.abort();
  const outcome = await st.slots.take(clientGone.signal);
  if (outcome.kind === 'aborted') return;
  if (outcome.kind === 'queue-full') {
    st.metrics.count(key, 'queueFull');
    return sendBusy(res, api);
  }
  const { slot } = outcome;
  const queuedMs = performance.now() - startedAt;
  try {
    if (draw.latencyMs > 0 && !clientGone.signal.aborted) await st.wait(draw.latencyMs);
    await slot.compute(soloWorkMs(answer, st.settings), clientGone.signal);
    if (clientGone.signal.aborted || res.destroyed) return;
    if (draw.errorStatus !== undefined) return sendInjectedError(st, res, key, api, draw.errorStatus);
    answer.send(res, startedAt, queuedMs);
  } finally {
    // Freed as soon as the answer is written, not when the socket reports 'close' a tick later.
    slot.release();
  }
}

/**
 * A chat request's answerer: the engine's answer (malformed when the draw says so), recorded under
 * `key` when sent, and written by `reply` in the wire protocol's shape.
 */
export function chatAnswerer(
  st: EmulatorState,
  key: string,
  request: ChatInput,
  reply: (out: ChatOutput, res: http.ServerResponse, startedAt: number, queuedMs: number) => void,
): Answerer {
  return (draw) => {
    const out = st.engine.chat(request, draw.malformed ? draw.malformChoice : undefined);
    return {
      ...out,
      send: (res, startedAt, queuedMs = 0) => {
        recordChat(st, key, out);
        reply(out, res, startedAt, queuedMs);
      },
    };
  };
}

/** Tokens of a chat answer, and whether it was malformed or cut at the token limit. */
function recordChat(st: EmulatorState, key: string, out: ChatOutput): void {
  st.metrics.addTokens(key, out.promptTokens, out.completionTokens);
  if (out.malformed) st.metrics.count(key, 'malformed');
  if (out.finishReason === 'length') st.metrics.count(key, 'truncated');
}

/**
 * An embedding request's answerer: the engine's vectors, their tokens recorded under `key` when
 * sent, written by `reply` in the wire protocol's shape.
 */
export function embedAnswerer(
  st: EmulatorState,
  key: string,
  request: { texts: string[]; dimensions: number | undefined },
  reply: (out: EmbedOutput, res: http.ServerResponse, startedAt: number) => void,
): Answerer {
  return () => {
    const out = st.engine.embed(request.texts, request.dimensions);
    return {
      promptTokens: out.promptTokens,
      completionTokens: 0,
      send: (res, startedAt) => {
        st.metrics.addTokens(key, out.promptTokens, 0);
        reply(out, res, startedAt);
      },
    };
  };
}
