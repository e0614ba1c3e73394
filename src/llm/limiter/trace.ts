// LLM_LIMITER_TRACE=1: every decision of the limiter in this process on stderr (a debugging aid);
// LLM_LIMITER_TRACE=<file path>: appended to that file instead, one line each, with the process id
// (worker processes started by a harness or a supervisor whose stderr nobody reads).
import fs from 'node:fs';

export function traceLimiter(what: string, detail: Record<string, unknown>): void {
  const to = process.env.LLM_LIMITER_TRACE;
  if (!to || to === '0') return;
  const line = `limiter ${what} ${JSON.stringify({ t: Date.now() % 1e6, pid: process.pid, ...detail })}`;
  if (to === '1') console.error(line);
  else fs.appendFileSync(to, line + '\n');
}
