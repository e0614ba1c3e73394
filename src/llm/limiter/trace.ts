// LLM_LIMITER_TRACE=1: every decision of the limiter in this process on stderr (a debugging aid).

export function traceLimiter(what: string, detail: Record<string, unknown>): void {
  if (process.env.LLM_LIMITER_TRACE !== '1') return;
  console.error(`limiter ${what} ${JSON.stringify({ t: Date.now() % 1e6, ...detail })}`);
}
