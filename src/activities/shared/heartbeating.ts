// Keeps a regular activity heartbeating while a long piece of I/O or CPU runs.
import { Context } from '@temporalio/activity';

/** How often `heartbeating` beats: well inside the shortest heartbeat timeout of a proxy. */
export const HEARTBEAT_EVERY_MS = 2000;

/**
 * Heartbeats every 2 s while `fn` runs, so a dead worker's attempt is retried soon (regular
 * activities; a local activity is retried with its workflow task instead).
 */
export async function heartbeating<T>(fn: () => Promise<T>): Promise<T> {
  let ctx: Context | undefined;
  try {
    ctx = Context.current();
    if (ctx.info.isLocal) ctx = undefined;
  } catch {
    // called outside an activity (unit tests): nothing to heartbeat
  }
  const timer = ctx ? setInterval(() => ctx.heartbeat(), HEARTBEAT_EVERY_MS) : undefined;
  try {
    return await fn();
  } finally {
    if (timer) clearInterval(timer);
  }
}
