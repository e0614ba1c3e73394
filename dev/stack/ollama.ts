// The stack's real Ollama server: its environment, its one model (registered and warmed), and the
// settings that point the pipelines at it.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { AppConfig } from '../../src/config';
import { ServiceStartError } from './errors';
import { logFile, tailLog } from './process';
import { ollamaInstall } from './tools';

/** Name under which `stack up --ollama` registers the model GGUF (SmolLM2-135M-Instruct, Q4_1). */
export const OLLAMA_STACK_MODEL = 'smollm2:135m';

/**
 * Settings baked into the registered model. Temperature 0: the same prompt gives the same answer, which
 * the LLM cache and the tests rely on. One compute thread: llama.cpp's threads spin-wait for each other,
 * and on 2 cores shared with Temporal and the workers two threads ran 7x slower than one (181 tokens in
 * 55.5 s against 7.6 s, same prompt, while a pipeline ran).
 */
const MODEL_PARAMETERS: Readonly<Record<string, string>> = { temperature: '0', num_thread: '1' };

/** Where clients reach the stack's Ollama server. */
export function ollamaUrl(cfg: AppConfig): string {
  return `http://127.0.0.1:${cfg.OLLAMA_PORT}`;
}

/** Directory of the server's state in DATA_DIR (models store, Modelfile). */
export function ollamaDataDir(cfg: AppConfig): string {
  return path.join(cfg.dataDir, 'ollama');
}

/**
 * Environment of `ollama serve`: loopback only, models under DATA_DIR, the model kept loaded, one model
 * at a time, OLLAMA_NUM_PARALLEL requests at once, cloud features off. Other OLLAMA_* variables of `env`
 * (OLLAMA_CONTEXT_LENGTH, OLLAMA_DEBUG...) pass through; our OLLAMA_HOST (a URL for the pipelines) does not.
 */
export function ollamaServerEnv(cfg: AppConfig, env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return {
    ...env,
    OLLAMA_HOST: `127.0.0.1:${cfg.OLLAMA_PORT}`,
    OLLAMA_MODELS: path.join(ollamaDataDir(cfg), 'models'),
    OLLAMA_KEEP_ALIVE: '-1',
    OLLAMA_NUM_PARALLEL: String(cfg.OLLAMA_NUM_PARALLEL),
    OLLAMA_MAX_LOADED_MODELS: '1',
    // v0.17.4 has no telemetry switch; this one turns off remote inference and web search.
    OLLAMA_NO_CLOUD: '1',
    // Its HTTP router otherwise logs every route at start-up.
    GIN_MODE: 'release',
  };
}

/**
 * The variables that point the pipelines (worker, CLI) at the stack's Ollama server and its model, for
 * chat and embeddings alike (`/api/embed` of this model gives 576 dimensions).
 */
export function ollamaProviderEnv(cfg: AppConfig): Record<string, string> {
  return {
    LLM_PROVIDER: 'ollama',
    OLLAMA_HOST: ollamaUrl(cfg),
    LLM_MODEL: OLLAMA_STACK_MODEL,
    EMBEDDING_MODEL: OLLAMA_STACK_MODEL,
  };
}

/** True when OLLAMA_HOST names the stack's own server (loopback, OLLAMA_PORT) rather than another one. */
export function pointsAtStackOllama(cfg: AppConfig): boolean {
  if (!cfg.OLLAMA_HOST) return false;
  const url = new URL(cfg.OLLAMA_HOST);
  const port = url.port || (url.protocol === 'https:' ? '443' : '80');
  return ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname) && Number(port) === cfg.OLLAMA_PORT;
}

/** The Modelfile of the stack's model: the cached GGUF, with the parameters above. */
export function stackModelfile(ggufPath: string): string {
  const params = Object.entries(MODEL_PARAMETERS).map(([k, v]) => `PARAMETER ${k} ${v}`);
  return [`FROM ${ggufPath}`, ...params].join('\n') + '\n';
}

/**
 * Registers the stack's model on the running server unless it already lists it with the same Modelfile
 * (`ollama create`, the binary as a client), then, unless it is loaded already, loads it for good with one
 * tiny chat and one embedding, so a pipeline's first call does not pay the load. Returns notes for
 * `stack up` to print.
 */
export async function ensureStackModel(
  cfg: AppConfig,
  env: NodeJS.ProcessEnv = process.env,
): Promise<string[]> {
  const notes: string[] = [];
  const install = ollamaInstall(cfg, env);
  const base = ollamaUrl(cfg);
  const dir = ollamaDataDir(cfg);
  const modelfilePath = path.join(dir, 'Modelfile');
  const modelfile = stackModelfile(install.model);
  const log = logFile(cfg.dataDir, 'ollama');
  const fail = (reason: string): ServiceStartError =>
    new ServiceStartError('ollama', reason, log, tailLog(log, 10));
  if (install.missing) throw fail(`cannot register ${OLLAMA_STACK_MODEL}: ${install.missing}`);

  const tags = await postOrGet<{ models?: { name: string }[] }>(`${base}/api/tags`, undefined, 10_000);
  const listed = tags.models?.some((m) => m.name === OLLAMA_STACK_MODEL) ?? false;
  const sameModelfile = readText(modelfilePath) === modelfile;
  if (!listed || !sameModelfile) {
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(modelfilePath, modelfile);
    const started = Date.now();
    try {
      await run(install.bin, ['create', OLLAMA_STACK_MODEL, '-f', modelfilePath], {
        ...env,
        OLLAMA_HOST: `127.0.0.1:${cfg.OLLAMA_PORT}`,
      });
    } catch (err) {
      // The next `stack up` must try again rather than trust a half-registered model.
      fs.rmSync(modelfilePath, { force: true });
      throw fail(`\`ollama create ${OLLAMA_STACK_MODEL}\` failed: ${(err as Error).message}`);
    }
    notes.push(`ollama: registered ${OLLAMA_STACK_MODEL} in ${secondsSince(started)} s (${install.model})`);
  }

  // Loaded already (a reused server): a warm-up would only queue behind the calls it may be serving.
  const loaded = await postOrGet<{ models?: { name: string }[] }>(`${base}/api/ps`, undefined, 10_000);
  if (loaded.models?.some((m) => m.name === OLLAMA_STACK_MODEL)) return notes;

  const started = Date.now();
  const timeoutMs = cfg.STACK_START_TIMEOUT_MS;
  try {
    await postOrGet(
      `${base}/api/chat`,
      {
        model: OLLAMA_STACK_MODEL,
        messages: [{ role: 'user', content: 'Hi' }],
        stream: false,
        keep_alive: -1,
        options: { num_predict: 1 },
      },
      timeoutMs,
    );
    await postOrGet(
      `${base}/api/embed`,
      { model: OLLAMA_STACK_MODEL, input: 'receipt', keep_alive: -1 },
      timeoutMs,
    );
  } catch (err) {
    throw fail(`warming ${OLLAMA_STACK_MODEL} up failed: ${(err as Error).message}`);
  }
  notes.push(`ollama: ${OLLAMA_STACK_MODEL} loaded (chat + embed) in ${secondsSince(started)} s`);
  return notes;
}

/** GET `url`, or POST `body` as JSON; the parsed answer, or an error naming the status and its text. */
async function postOrGet<T = unknown>(url: string, body: unknown, timeoutMs: number): Promise<T> {
  const res = await fetch(url, {
    method: body === undefined ? 'GET' : 'POST',
    ...(body === undefined
      ? {}
      : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${new URL(url).pathname} answered HTTP ${res.status}: ${text.slice(0, 300)}`);
  return JSON.parse(text) as T;
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { env, timeout: 5 * 60_000, maxBuffer: 16 << 20 }, (err, _stdout, stderr) => {
      if (!err) return resolve();
      // The client draws progress bars with carriage returns; keep the last line of each.
      const lines = stderr
        .split('\n')
        .map((l) => l.split('\r').at(-1)?.trim() ?? '')
        .filter(Boolean);
      reject(new Error(lines.slice(-5).join(' | ') || err.message));
    });
  });
}

function readText(file: string): string | null {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return null;
  }
}

function secondsSince(start: number): string {
  return ((Date.now() - start) / 1000).toFixed(1);
}
