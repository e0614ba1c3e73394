// The shared embedded stack for tests: started once, reused by every test file and every later run.
import { loadConfig, type AppConfig } from '../../src/config';
import { stackUp } from '../../src/stack/stack';

let shared: Promise<AppConfig> | undefined;

/**
 * Brings the stack of `env`'s config up (reusing services already running, so other test files and
 * earlier runs cost nothing) and returns that config. Safe to call from several test files at once:
 * within a process the first call's promise is shared; across processes the stack lock serialises
 * `stack up` and the second process finds everything running.
 */
export function ensureStack(env: NodeJS.ProcessEnv = process.env): Promise<AppConfig> {
  if (env !== process.env) return up(env);
  shared ??= up(env).catch((err: unknown) => {
    // A failed start is not cached: a later call (or test file) tries again.
    shared = undefined;
    throw err;
  });
  return shared;
}

async function up(env: NodeJS.ProcessEnv): Promise<AppConfig> {
  const cfg = loadConfig(env);
  await stackUp(cfg, { env });
  return cfg;
}
