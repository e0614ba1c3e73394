// A lock file so that concurrent `stack up|down` (several test files, a demo and a test run) never race.
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { StackLockTimeoutError } from './errors';
import { isProcessAlive, pidDir } from './process';

/** A lock file younger than this with no readable holder is being written, not abandoned. */
const FRESH_LOCK_MS = 10_000;

export function lockFile(dataDir: string): string {
  return path.join(pidDir(dataDir), 'stack.lock');
}

/** Runs `fn` while holding `$DATA_DIR/pids/stack.lock`; a lock whose holder process died is taken over. */
export async function withStackLock<T>(dataDir: string, waitMs: number, fn: () => Promise<T>): Promise<T> {
  const file = lockFile(dataDir);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const token = `${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}`;
  const deadline = Date.now() + waitMs;
  let holder: number | undefined;
  for (;;) {
    try {
      fs.writeFileSync(file, JSON.stringify({ pid: process.pid, token, at: new Date().toISOString() }), {
        flag: 'wx',
      });
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        fs.mkdirSync(path.dirname(file), { recursive: true });
        continue;
      }
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    holder = readHolder(file);
    if (isAbandoned(file, holder)) {
      fs.rmSync(file, { force: true });
      continue;
    }
    if (Date.now() >= deadline) throw new StackLockTimeoutError(file, holder, waitMs);
    await sleep(200);
  }
  try {
    return await fn();
  } finally {
    // Only remove the lock if it is still ours (a wipe or a takeover may have replaced it).
    try {
      if ((JSON.parse(fs.readFileSync(file, 'utf8')) as { token?: string }).token === token) fs.rmSync(file);
    } catch {
      // already gone
    }
  }
}

function readHolder(file: string): number | undefined {
  try {
    const pid = (JSON.parse(fs.readFileSync(file, 'utf8')) as { pid?: unknown }).pid;
    return typeof pid === 'number' ? pid : undefined;
  } catch {
    return undefined;
  }
}

function isAbandoned(file: string, holder: number | undefined): boolean {
  if (holder !== undefined) return !isProcessAlive(holder);
  try {
    return Date.now() - fs.statSync(file).mtimeMs > FRESH_LOCK_MS;
  } catch {
    return false;
  }
}
