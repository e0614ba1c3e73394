// The LLM provider emulator's HTTP server: Ollama and OpenAI wire protocols on one port, with
// limits (refusing or queueing), latency, faults, an oracle for answers, and metrics under /_emulator.
import http from 'node:http';
import { type AddressInfo } from 'node:net';
import { AdmissionControl, type Refusal } from './admission';
import { BatchStore, IdSource, fileObject } from './batches';
import { InferenceEngine, drawFaults, type ChatOutput, type FaultDraw } from './engine';
import {
  BadRequestError,
  ClientGoneError,
  readBody,
  readJsonObject,
  sendJson,
  sendText,
  type Headers,
} from './http-util';
import { MetricsRecorder, type EmulatorMetrics } from './metrics';
import {
  OLLAMA_BUSY_MESSAGE,
  ollamaChatBody,
  ollamaEmbedBody,
  ollamaServerErrorMessage,
  ollamaTagsBody,
  parseOllamaChatRequest,
  parseOllamaEmbedRequest,
} from './ollama-wire';
import {
  chatCompletionBody,
  chatCompletionStream,
  embeddingsBody,
  openAiError,
  parseChatCompletionRequest,
  parseEmbeddingsRequest,
  serverErrorBody,
} from './openai-wire';
import { SeededRandom } from './random';
import { ServiceSlots } from './service-slots';
import { soloWorkMs } from './service-time';
import {
  EmulatorSettingsError,
  parseSettingsPatch,
  resolveEmulatorSettings,
  type EmulatorSettings,
} from './settings';
import { drawStatusFault, ollamaStatusErrorMessage, openAiStatusErrorBody } from './status-faults';
import { TruthSource } from './truth-source';

export interface StartEmulatorOptions extends Partial<EmulatorSettings> {
  /**
   * Port to listen on; 0 picks a free one.
   * @default 0
   */
  port?: number;
  /**
   * Address to bind; the emulator is meant for loopback only.
   * @default '127.0.0.1'
   */
  host?: string;
  /** Where warnings go (an unreadable truth file). @default a line on stderr */
  log?: (message: string) => void;
}

export interface EmulatorHandle {
  /** Base URL, e.g. `http://127.0.0.1:11435` (OpenAI clients use `${url}/v1`). */
  url: string;
  port: number;
  /** The settings in force (a copy). */
  readonly settings: EmulatorSettings;
  metrics(): EmulatorMetrics;
  /** Validates and applies a patch live; throws EmulatorSettingsError naming bad fields. */
  updateSettings(patch: Partial<EmulatorSettings>): EmulatorSettings;
  /** Zeroes metrics, empties the rpm window and restarts the seeded fault stream. */
  reset(): void;
  close(): Promise<void>;
}

type Api = 'openai' | 'ollama';
/** The answer to an inference request: its token counts (which set its service time) and how to send it. */
interface Answer {
  promptTokens: number;
  completionTokens: number;
  send(res: http.ServerResponse, startedAt: number): void;
}
/** A parsed inference request: runs the engine, given the request's drawn fate, when its answer is due. */
type Answerer = (draw: FaultDraw) => Answer;

/** Biggest page `GET /v1/batches` returns (OpenAI's limit). */
const MAX_LIST_LIMIT = 100;
const DEFAULT_LIST_LIMIT = 20;

class Emulator {
  settings: EmulatorSettings;
  readonly metrics = new MetricsRecorder();
  private readonly admission = new AdmissionControl();
  private readonly truth: TruthSource;
  private readonly engine: InferenceEngine;
  private readonly batches: BatchStore;
  private readonly ids = new IdSource();
  private faultRng: SeededRandom;
  /** Pending latency and timeout waits, so close() can end them. */
  private readonly waits = new Map<NodeJS.Timeout, () => void>();
  /** The queueing model's slots and FIFO queue. */
  private readonly slots: ServiceSlots;
  /** performance.now() at which the current model load ends (`loadingForMs`). */
  private loadingUntil: number;

  constructor(settings: EmulatorSettings, log: (message: string) => void) {
    this.settings = settings;
    this.loadingUntil = performance.now() + settings.loadingForMs;
    this.slots = new ServiceSlots(() => this.settings, this.metrics);
    this.truth = new TruthSource(settings.truthFile, log);
    this.engine = new InferenceEngine(() => this.settings, this.truth);
    this.batches = new BatchStore({
      engine: this.engine,
      settings: () => this.settings,
      metrics: this.metrics,
      ids: this.ids,
    });
    this.faultRng = new SeededRandom(settings.seed);
  }

  update(patch: unknown): EmulatorSettings {
    const parsed = parseSettingsPatch(patch);
    const next = { ...this.settings, ...parsed };
    const reseed = next.seed !== this.settings.seed;
    this.settings = next;
    this.truth.setPath(next.truthFile);
    if (reseed) this.faultRng = new SeededRandom(next.seed);
    if (parsed.loadingForMs !== undefined) this.loadingUntil = performance.now() + parsed.loadingForMs;
    // More slots (or a bigger queue) may let waiters in now.
    this.slots.pump();
    return this.current();
  }

  /** The settings in force, with `loadingForMs` as the time still left of the current load. */
  current(): EmulatorSettings {
    return { ...this.settings, loadingForMs: this.loadingLeftMs() };
  }

  private loadingLeftMs(): number {
    return Math.max(0, Math.ceil(this.loadingUntil - performance.now()));
  }

  reset(): void {
    this.metrics.reset();
    this.admission.reset();
    this.faultRng = new SeededRandom(this.settings.seed);
  }

  endWaits(): void {
    for (const [timer, resolve] of this.waits) {
      clearTimeout(timer);
      resolve();
    }
    this.waits.clear();
    this.slots.close();
  }

  private wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waits.delete(timer);
        resolve();
      }, ms);
      this.waits.set(timer, resolve);
    });
  }

  publicSettings(): Record<string, unknown> {
    const s = this.current();
    return { ...s, truthFile: s.truthFile ?? null, faultStatus: s.faultStatus ?? null };
  }

  handle = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    this.route(req, res).catch((err: unknown) => {
      // A bug in the emulator, not an injected fault: say so plainly.
      const message = `emulator internal error: ${err instanceof Error ? err.message : String(err)}`;
      process.stderr.write(`${err instanceof Error ? (err.stack ?? message) : message}\n`);
      sendJson(res, 500, openAiError(message, 'server_error'));
    });
  };

  private async route(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const rawUrl = req.url ?? '/';
    const q = rawUrl.indexOf('?');
    const path = q < 0 ? rawUrl : rawUrl.slice(0, q);
    const method = req.method ?? 'GET';

    // Hot paths first, by exact match.
    if (method === 'POST') {
      if (path === '/v1/chat/completions')
        return this.inference(req, res, path, 'openai', (b) => this.openAiChat(b));
      if (path === '/v1/embeddings')
        return this.inference(req, res, path, 'openai', (b) => this.openAiEmbeddings(b));
      if (path === '/api/chat') return this.inference(req, res, path, 'ollama', (b) => this.ollamaChat(b));
      if (path === '/api/embed')
        return this.inference(req, res, path, 'ollama', (b) => this.ollamaEmbed(b, false));
      if (path === '/api/embeddings')
        return this.inference(req, res, path, 'ollama', (b) => this.ollamaEmbed(b, true));
    }

    if (path === '/healthz' && method === 'GET') return sendJson(res, 200, { status: 'ok' });
    if (path.startsWith('/_emulator/')) return this.control(req, res, path, method);

    if (path.startsWith('/v1/'))
      return this.openAiRest(req, res, path, method, q < 0 ? '' : rawUrl.slice(q + 1));
    if (path.startsWith('/api/')) {
      if (path === '/api/tags' && method === 'GET')
        return this.counted(path, () => sendJson(res, 200, ollamaTagsBody()));
      if (path === '/api/version' && method === 'GET')
        return this.counted(path, () => sendJson(res, 200, { version: '0.6.4-emulator' }));
      this.metrics.count('(unknown)', 'requests');
      this.metrics.count('(unknown)', 'badRequests');
      return sendText(res, 404, '404 page not found', 'text/plain; charset=utf-8');
    }
    return sendText(res, 404, '404 page not found', 'text/plain; charset=utf-8');
  }

  private counted(key: string, fn: () => void): void {
    this.metrics.count(key, 'requests');
    fn();
  }

  // ---- inference: admission, latency or queueing, faults ----

  private async inference(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    key: string,
    api: Api,
    prepare: (body: Record<string, unknown>) => Answerer,
  ): Promise<void> {
    this.metrics.count(key, 'requests');
    const s = this.settings;
    const queueing = s.providerModel === 'queueing';
    // The queueing model never refuses for concurrency: its slots and queue decide further down.
    const maxConcurrency = queueing ? Number.POSITIVE_INFINITY : s.maxConcurrency;
    const refusal = this.admission.tryAdmit(this.metrics.inFlight, maxConcurrency, s.rpm);
    if (refusal) {
      this.metrics.count(key, 'rateLimited');
      return this.sendRateLimited(res, api, refusal);
    }
    if (performance.now() < this.loadingUntil) {
      this.metrics.count(key, 'modelLoading');
      return sendBusy(res, api);
    }
    if (!queueing) {
      this.metrics.enter();
      // 'close' fires once, whether the answer was sent or the connection died: the slot is freed either way.
      res.once('close', () => this.metrics.leave());
    }
    const startedAt = performance.now();

    let answerer: Answerer;
    try {
      const body = await readJsonObject(req);
      const status = drawStatusFault(this.faultRng, this.settings);
      if (status !== undefined) {
        this.metrics.count(key, 'statusFaults');
        return this.sendStatusFault(res, api, status);
      }
      answerer = prepare(body);
    } catch (err) {
      return this.sendBadRequest(res, key, api, err);
    }
    const draw = drawFaults(this.faultRng, this.settings);
    if (draw.timeout) {
      this.metrics.count(key, 'timeouts');
      await this.wait(this.settings.timeoutMs);
      req.socket.destroy();
      return;
    }
    if (queueing) return this.serveQueued(res, key, api, answerer(draw), draw, startedAt);
    if (draw.latencyMs > 0) await this.wait(draw.latencyMs);
    if (res.destroyed) return;
    if (draw.errorStatus !== undefined) return this.sendInjectedError(res, key, api, draw.errorStatus);
    answerer(draw).send(res, startedAt);
  }

  /**
   * Queueing model: waits in FIFO order for a slot (503 when the queue is full), then spends the fixed
   * overhead and the token work in it. A client that goes away frees its queue place or its slot.
   */
  private async serveQueued(
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
    const outcome = await this.slots.take(clientGone.signal);
    if (outcome.kind === 'aborted') return;
    if (outcome.kind === 'queue-full') {
      this.metrics.count(key, 'queueFull');
      return sendBusy(res, api);
    }
    const { slot } = outcome;
    try {
      if (draw.latencyMs > 0 && !clientGone.signal.aborted) await this.wait(draw.latencyMs);
      await slot.compute(soloWorkMs(answer, this.settings), clientGone.signal);
      if (clientGone.signal.aborted || res.destroyed) return;
      if (draw.errorStatus !== undefined) return this.sendInjectedError(res, key, api, draw.errorStatus);
      answer.send(res, startedAt);
    } finally {
      // Freed as soon as the answer is written, not when the socket reports 'close' a tick later.
      slot.release();
    }
  }

  private sendStatusFault(res: http.ServerResponse, api: Api, status: number): void {
    if (api === 'ollama') return sendJson(res, status, { error: ollamaStatusErrorMessage(status) });
    sendJson(res, status, openAiStatusErrorBody(status), { 'x-request-id': this.ids.next('req_') });
  }

  private sendInjectedError(res: http.ServerResponse, key: string, api: Api, status: number): void {
    this.metrics.count(key, 'errors');
    if (api === 'openai')
      return sendJson(res, status, serverErrorBody(status), { 'x-request-id': this.ids.next('req_') });
    sendJson(res, status, { error: ollamaServerErrorMessage(status) });
  }

  private sendRateLimited(res: http.ServerResponse, api: Api, refusal: Refusal): void {
    const s = this.settings;
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
    headers['x-request-id'] = this.ids.next('req_');
    const message = `Rate limit reached: ${describeRefusal(refusal)}. Please try again in ${s.retryAfterS}s.`;
    sendJson(res, s.rateLimitStatus, openAiError(message, 'requests', null, 'rate_limit_exceeded'), headers);
  }

  private sendBadRequest(res: http.ServerResponse, key: string, api: Api, err: unknown): void {
    if (err instanceof ClientGoneError) return;
    if (!(err instanceof BadRequestError)) throw err;
    this.metrics.count(key, 'badRequests');
    if (api === 'ollama') return sendJson(res, err.status, { error: err.message });
    sendJson(res, err.status, openAiError(err.message, 'invalid_request_error', err.param, err.code));
  }

  private recordChat(key: string, out: ChatOutput): void {
    this.metrics.addTokens(key, out.promptTokens, out.completionTokens);
    if (out.malformed) this.metrics.count(key, 'malformed');
    if (out.finishReason === 'length') this.metrics.count(key, 'truncated');
  }

  private openAiChat(body: Record<string, unknown>): Answerer {
    const request = parseChatCompletionRequest(body);
    return (draw) => {
      const out = this.engine.chat(request, draw.malformed ? draw.malformChoice : undefined);
      return {
        ...out,
        send: (res, startedAt) => {
          this.recordChat('/v1/chat/completions', out);
          const id = this.ids.next('chatcmpl-');
          const created = Math.floor(Date.now() / 1000);
          const headers = this.openAiHeaders(startedAt);
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
        },
      };
    };
  }

  private openAiEmbeddings(body: Record<string, unknown>): Answerer {
    const request = parseEmbeddingsRequest(body);
    return () => {
      const out = this.engine.embed(request.texts, request.dimensions);
      return {
        promptTokens: out.promptTokens,
        completionTokens: 0,
        send: (res, startedAt) => {
          this.metrics.addTokens('/v1/embeddings', out.promptTokens, 0);
          sendJson(
            res,
            200,
            embeddingsBody(out, request.model, request.encoding),
            this.openAiHeaders(startedAt),
          );
        },
      };
    };
  }

  private openAiHeaders(startedAt: number): Headers {
    const headers: Headers = {
      'x-request-id': this.ids.next('req_'),
      'openai-processing-ms': Math.round(performance.now() - startedAt),
    };
    if (this.settings.rpm > 0) {
      headers['x-ratelimit-limit-requests'] = this.settings.rpm;
      headers['x-ratelimit-remaining-requests'] = Math.max(
        0,
        this.settings.rpm - this.admission.windowCount(),
      );
    }
    return headers;
  }

  private ollamaChat(body: Record<string, unknown>): Answerer {
    const request = parseOllamaChatRequest(body);
    return (draw) => {
      const out = this.engine.chat(request, draw.malformed ? draw.malformChoice : undefined);
      return {
        ...out,
        send: (res, startedAt) => {
          this.recordChat('/api/chat', out);
          const answer = ollamaChatBody(out, request.model, performance.now() - startedAt);
          if (request.stream)
            return sendText(res, 200, JSON.stringify(answer) + '\n', 'application/x-ndjson');
          sendJson(res, 200, answer);
        },
      };
    };
  }

  private ollamaEmbed(body: Record<string, unknown>, legacy: boolean): Answerer {
    // The legacy /api/embeddings takes one `prompt` and answers one `embedding`.
    const request = parseOllamaEmbedRequest(legacy ? { ...body, input: body.prompt } : body);
    return () => {
      const out = this.engine.embed(request.texts, request.dimensions);
      return {
        promptTokens: out.promptTokens,
        completionTokens: 0,
        send: (res, startedAt) => {
          this.metrics.addTokens(legacy ? '/api/embeddings' : '/api/embed', out.promptTokens, 0);
          const answer = ollamaEmbedBody(out, request.model, performance.now() - startedAt);
          sendJson(res, 200, legacy ? { embedding: answer.embeddings[0] ?? [] } : answer);
        },
      };
    };
  }

  // ---- OpenAI files, batches, models: no limits, no latency ----

  private async openAiRest(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    path: string,
    method: string,
    query: string,
  ): Promise<void> {
    const parts = path.split('/').filter(Boolean); // ['v1', 'files', id?, 'content'?]
    const resource = parts[1];
    const id = parts[2] ? decodeURIComponent(parts[2]) : undefined;
    const sub = parts[3];
    const key = `/v1/${resource ?? ''}${id ? '/{id}' : ''}${sub ? `/${sub}` : ''}`;
    this.metrics.count(key, 'requests');
    try {
      if (resource === 'models' && method === 'GET' && !id) {
        return sendJson(res, 200, {
          object: 'list',
          data: ['gpt-4o-mini', 'text-embedding-3-small'].map((m) => ({
            id: m,
            object: 'model',
            created: 1_700_000_000,
            owned_by: 'emulator',
          })),
        });
      }
      if (resource === 'files') {
        if (!id && method === 'POST') return sendJson(res, 200, fileObject(await this.uploadFile(req)));
        if (!id && method === 'GET') {
          const purpose = new URLSearchParams(query).get('purpose') ?? undefined;
          const data = this.batches.listFiles(purpose).map(fileObject);
          return sendJson(res, 200, {
            object: 'list',
            data,
            first_id: data[0]?.id ?? null,
            last_id: data.at(-1)?.id ?? null,
            has_more: false,
          });
        }
        if (id && !sub && method === 'GET') return sendJson(res, 200, fileObject(this.batches.getFile(id)));
        if (id && !sub && method === 'DELETE') return sendJson(res, 200, this.batches.deleteFile(id));
        if (id && sub === 'content' && method === 'GET') {
          return sendText(res, 200, this.batches.getFile(id).content, 'application/octet-stream');
        }
      }
      if (resource === 'batches') {
        if (!id && method === 'POST')
          return sendJson(res, 200, this.batches.createBatch(await readJsonObject(req)));
        if (!id && method === 'GET') {
          const params = new URLSearchParams(query);
          const limit = parseLimit(params.get('limit'));
          return sendJson(res, 200, this.batches.listBatches(params.get('after') ?? undefined, limit));
        }
        if (id && !sub && method === 'GET') return sendJson(res, 200, this.batches.retrieveBatch(id));
        if (id && sub === 'cancel' && method === 'POST')
          return sendJson(res, 200, this.batches.cancelBatch(id));
      }
      throw new BadRequestError(`Invalid URL (${method} ${path})`, 404);
    } catch (err) {
      this.sendBadRequest(res, key, 'openai', err);
    }
  }

  private async uploadFile(req: http.IncomingMessage) {
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
    return this.batches.createFile(
      Buffer.from(await file.arrayBuffer()),
      file.name || 'upload.jsonl',
      purpose,
    );
  }

  // ---- control ----

  private async control(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    path: string,
    method: string,
  ): Promise<void> {
    if (path === '/_emulator/metrics' && method === 'GET') return sendJson(res, 200, this.metrics.snapshot());
    if (path === '/_emulator/config' && method === 'GET') return sendJson(res, 200, this.publicSettings());
    if (path === '/_emulator/config' && (method === 'PUT' || method === 'PATCH')) {
      try {
        this.update(await readJsonObject(req));
      } catch (err) {
        if (err instanceof EmulatorSettingsError) {
          return sendJson(
            res,
            400,
            openAiError(
              err.message,
              'invalid_request_error',
              err.fields.join(',') || null,
              'invalid_settings',
            ),
          );
        }
        if (err instanceof BadRequestError)
          return sendJson(res, err.status, openAiError(err.message, 'invalid_request_error'));
        throw err;
      }
      return sendJson(res, 200, this.publicSettings());
    }
    if (path === '/_emulator/reset' && method === 'POST') {
      this.reset();
      return sendJson(res, 200, { ok: true });
    }
    sendJson(
      res,
      404,
      openAiError(
        `Unknown control route ${method} ${path}. Known: GET /_emulator/metrics, GET|PUT /_emulator/config, POST /_emulator/reset.`,
        'invalid_request_error',
      ),
    );
  }
}

/**
 * 503 "server busy" without Retry-After, as Ollama answers while it loads a model or when its queue is
 * full; on the OpenAI API in the shape of Ollama's OpenAI-compatible endpoint.
 */
function sendBusy(res: http.ServerResponse, api: Api): void {
  if (api === 'ollama') return sendJson(res, 503, { error: OLLAMA_BUSY_MESSAGE });
  sendJson(res, 503, openAiError(OLLAMA_BUSY_MESSAGE, 'api_error'));
}

function describeRefusal(r: Refusal): string {
  return r.reason === 'rpm'
    ? `requests per minute (RPM): limit ${r.limit}, used ${r.limit}, requested 1`
    : `concurrent requests: limit ${r.limit} in flight`;
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

/** Starts the emulator; resolves once it listens. Settings not given take their defaults. */
export async function startEmulator(options: StartEmulatorOptions = {}): Promise<EmulatorHandle> {
  const {
    port = 0,
    host = '127.0.0.1',
    log = (m: string) => process.stderr.write(`${m}\n`),
    ...settingsPatch
  } = options;
  const emulator = new Emulator(resolveEmulatorSettings(settingsPatch), log);
  const server = http.createServer(emulator.handle);
  // Clients keep connections alive between calls; outlive their idle timeouts so none races a close.
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${host}:${address.port}`,
    port: address.port,
    get settings() {
      return emulator.current();
    },
    metrics: () => emulator.metrics.snapshot(),
    updateSettings: (patch) => emulator.update(patch),
    reset: () => emulator.reset(),
    close: () => {
      closing ??= new Promise<void>((resolve, reject) => {
        emulator.endWaits();
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

export type { EmulatorMetrics, EmulatorSettings };
