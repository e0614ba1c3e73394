// A Temporal dev server of one test process's own (free ports, its own SQLite file and pid record)
// beside the shared stack's other services: a test file that kills and restarts its Temporal server
// can then run beside the others instead of alone.
import fs from 'node:fs';
import path from 'node:path';
import { loadConfig, type AppConfig } from '../../src/config';
import { isPortFree } from '../../dev/stack/process';
import { stackDown, stackUp } from '../../dev/stack/stack';
import { ensureStack } from '../../dev/harness/stack';

export interface OwnTemporal {
  /** The config of this process from now on: the shared stack, but this Temporal server. */
  cfg: AppConfig;
  /** Stops the server and deletes its data dir. */
  stop(): Promise<void>;
}

/**
 * Brings the shared stack up, then starts an own Temporal dev server and points this process at it:
 * `process.env` gets its TEMPORAL_PORT, TEMPORAL_UI_PORT and DATA_DIR (where its pid record and
 * SQLite file live), so every harness, worker process and `stackUp(cfg, { only: ['temporal'] })` of
 * this process uses it. Call it before anything else of the file starts a harness.
 */
export async function startOwnTemporal(): Promise<OwnTemporal> {
  const shared = await ensureStack();
  const dataDir = path.join(shared.dataDir, `temporal-${process.pid}`);
  Object.assign(process.env, {
    TEMPORAL_PORT: String(await freeServerPort()),
    TEMPORAL_UI_PORT: String(await freeServerPort()),
    DATA_DIR: dataDir,
  });
  const cfg = loadConfig(process.env);
  await stackUp(cfg, { only: ['temporal'] });
  return {
    cfg,
    async stop() {
      await stackDown(cfg);
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * A port free on loopback between 20000 and 31000, below Linux's ephemeral range (32768 up). The
 * server is killed and restarted on the same ports; one the OS had picked from the ephemeral range
 * was taken meanwhile as another connection's local port ("bind: address already in use" at the
 * restart, once in a full suite run).
 */
async function freeServerPort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 11_000);
    if (await isPortFree(port)) return port;
  }
  throw new Error('no free port between 20000 and 31000 on 127.0.0.1');
}
