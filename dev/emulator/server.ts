// The LLM provider emulator's HTTP server: Ollama and OpenAI wire protocols on one port, with
// limits (refusing or queueing), latency, faults, an oracle for answers, and metrics under /_emulator.
// This file routes requests; each protocol's routes, the inference path and the control endpoint
// live in files of their own, all sharing one EmulatorState.
import http from 'node:http';
import { type AddressInfo } from 'node:net';
import { serveControl } from './control-routes';
import { sendJson, sendText } from './http-util';
import type { EmulatorMetrics } from './metrics';
import { serveOllamaInference, serveOllamaRest } from './ollama-routes';
import { serveOpenAiInference, serveOpenAiRest } from './openai-routes';
import { openAiError } from './openai-wire';
import { resolveEmulatorSettings, type EmulatorSettings } from './settings';
import { EmulatorState } from './state';

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

/** Routes one request; an exception is a bug in the emulator (500), not an injected fault. */
function handler(st: EmulatorState) {
  return (req: http.IncomingMessage, res: http.ServerResponse): void => {
    route(st, req, res).catch((err: unknown) => {
      // A bug in the emulator, not an injected fault: say so plainly.
      const message = `emulator internal error: ${err instanceof Error ? err.message : String(err)}`;
      process.stderr.write(`${err instanceof Error ? (err.stack ?? message) : message}\n`);
      sendJson(res, 500, openAiError(message, 'server_error'));
    });
  };
}

async function route(st: EmulatorState, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const rawUrl = req.url ?? '/';
  const q = rawUrl.indexOf('?');
  const path = q < 0 ? rawUrl : rawUrl.slice(0, q);
  const method = req.method ?? 'GET';

  // Hot paths first, by exact match.
  if (method === 'POST') {
    const served = serveOpenAiInference(st, req, res, path) || serveOllamaInference(st, req, res, path);
    if (served) return served;
  }
  if (path === '/healthz' && method === 'GET') return sendJson(res, 200, { status: 'ok' });
  if (path.startsWith('/_emulator/')) return serveControl(st, req, res, path, method);
  if (path.startsWith('/v1/'))
    return serveOpenAiRest(st, req, res, path, method, q < 0 ? '' : rawUrl.slice(q + 1));
  if (path.startsWith('/api/')) return serveOllamaRest(st, res, path, method);
  return sendText(res, 404, '404 page not found', 'text/plain; charset=utf-8');
}

/** Starts the emulator; resolves once it listens. Settings not given take their defaults. */
export async function startEmulator(options: StartEmulatorOptions = {}): Promise<EmulatorHandle> {
  const {
    port = 0,
    host = '127.0.0.1',
    log = (m: string) => process.stderr.write(`${m}\n`),
    ...settingsPatch
  } = options;
  const emulator = new EmulatorState(resolveEmulatorSettings(settingsPatch), log);
  const server = http.createServer(handler(emulator));
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
