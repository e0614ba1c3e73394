// The shared embedded stack for tests: started once, reused by every test file and every later run.
import { loadConfig, type AppConfig } from '../../src/config';
import { ollamaProviderEnv } from '../stack/ollama';
import { stackUp } from '../stack/stack';

export interface EnsureStackOptions {
  /**
   * Also run the stack's real Ollama server (its model registered and loaded), and return a config whose
   * LLM layer talks to it (LLM_PROVIDER=ollama, OLLAMA_HOST, LLM_MODEL and EMBEDDING_MODEL smollm2:135m).
   * Needs `npm run tools -- --ollama` (npm test runs it). @default false
   */
  ollama?: boolean;
}

const shared = new Map<boolean, Promise<AppConfig>>();

/**
 * Brings the stack of `env`'s config up (reusing services already running, so other test files and
 * earlier runs cost nothing) and returns that config. Safe to call from several test files at once:
 * within a process the first call's promise is shared; across processes the stack lock serialises
 * `stack up` and the second process finds everything running.
 */
export function ensureStack(
  env: NodeJS.ProcessEnv = process.env,
  opts: EnsureStackOptions = {},
): Promise<AppConfig> {
  const ollama = opts.ollama ?? false;
  if (env !== process.env) return up(env, ollama);
  let pending = shared.get(ollama);
  if (!pending) {
    pending = up(env, ollama).catch((err: unknown) => {
      // A failed start is not cached: a later call (or test file) tries again.
      shared.delete(ollama);
      throw err;
    });
    shared.set(ollama, pending);
  }
  return pending;
}

async function up(env: NodeJS.ProcessEnv, ollama: boolean): Promise<AppConfig> {
  const cfg = loadConfig(env);
  await stackUp(cfg, { env, ollama });
  return ollama ? loadConfig({ ...env, ...ollamaProviderEnv(cfg) }) : cfg;
}
