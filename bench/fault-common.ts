// What the fault scenarios share: the row they return, proxies around a run, direct (unproxied)
// access to the stack for the checks, polling with a deadline.
import { loadConfig, type AppConfig } from '../src/config';
import { startFaultProxy, type FaultProxy } from '../src/stack/fault-proxy';

/** One row of docs/RELIABILITY.md: what was injected and what became of every item. */
export interface FaultRow {
  fault: string;
  items: number;
  succeeded: number;
  /** Items recorded as failed with a non-empty reason. */
  failedWithReason: number;
  /** Items with no outcome at all (no result, or left pending): must be 0. */
  lost: number;
  /** Provider requests beyond those of a clean run (work paid twice). */
  extraProviderRequests: number;
  /** The provider never saw more calls at once than the cap. */
  capHeld: boolean;
  /** Details for the table: when the fault hit, calls in flight then, request counts, run status. */
  detail: FaultDetail;
}

export interface FaultDetail {
  injected: string;
  runStatus: string;
  providerRequests: number;
  cleanProviderRequests: number;
  /** Provider calls in flight when the fault hit: the most a fault may make us pay twice. */
  inFlightAtFault: number;
  cap: number;
  inFlightMax: number;
  proxy: { requests: number; faulted: number };
  makespanMs: number;
}

/** The seven fields `--json` prints per row. */
export function jsonRow(r: FaultRow) {
  const { fault, items, succeeded, failedWithReason, lost, extraProviderRequests, capHeld } = r;
  return { fault, items, succeeded, failedWithReason, lost, extraProviderRequests, capHeld };
}

export interface ScenarioContext {
  /** The stack's own endpoints (what the proxies stand in front of). */
  stack: AppConfig;
  /** How long each fault lasts. */
  faultMs: number;
  log: (line: string) => void;
}

export type FaultScenario = (ctx: ScenarioContext) => Promise<FaultRow>;

/** A proxy in front of `target` for the life of `fn`. */
export async function withProxy<T>(target: string, fn: (proxy: FaultProxy) => Promise<T>): Promise<T> {
  const proxy = await startFaultProxy({ target });
  try {
    return await fn(proxy);
  } finally {
    await proxy.close();
  }
}

/** The config of a harness env, but talking to the stack directly (checks bypass the proxies). */
export function directConfig(stack: AppConfig, env: Record<string, string>): AppConfig {
  const { DYNAMODB_ENDPOINT: _d, S3_ENDPOINT: _s, CHROMA_URL: _c, ...rest } = env;
  return loadConfig({
    ...process.env,
    ...rest,
    DYNAMODB_ENDPOINT: stack.dynamodbEndpoint,
    S3_ENDPOINT: stack.s3Endpoint,
    CHROMA_URL: stack.chromaUrl,
  });
}

/** Polls `check` until it returns a value; fails naming `what` after `ms`. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined>,
  ms = 120_000,
  everyMs = 50,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`gave up after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** `promise`, or an error naming `what` after `ms` (a run that never ends is a finding, not a hang). */
export async function within<T>(what: string, promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}
