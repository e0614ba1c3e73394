// Health checks of the stack's services, each a single cheap probe of the real protocol.
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { Connection } from '@temporalio/client';
import { setTimeout as sleep } from 'node:timers/promises';
import { portAnswers } from './process';

/** Outcome of one probe: ok, or why not. */
export type Health = { ok: true } | { ok: false; reason: string };

const OK: Health = { ok: true };

/** Time one probe may take; polling repeats probes until the start timeout. */
export const PROBE_TIMEOUT_MS = 2_000;

/** GET `url`; healthy when the answer's status passes `accept` (default: any 2xx). */
export async function probeHttp(
  url: string,
  accept: (status: number) => boolean = (s) => s >= 200 && s < 300,
  headers: Record<string, string> = {},
): Promise<Health> {
  try {
    const res = await fetch(url, { headers, signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) });
    await res.body?.cancel();
    return accept(res.status) ? OK : { ok: false, reason: `GET ${url} answered HTTP ${res.status}` };
  } catch (err) {
    return { ok: false, reason: `GET ${url} failed: ${describe(err)}` };
  }
}

/** GET each url in turn; healthy as soon as one passes (e.g. /healthz, then /api/tags). */
export async function probeAnyHttp(urls: string[], headers: Record<string, string> = {}): Promise<Health> {
  let last: Health = { ok: false, reason: 'no url to probe' };
  for (const url of urls) {
    last = await probeHttp(url, undefined, headers);
    if (last.ok) return last;
  }
  return last;
}

/** Temporal frontend: gRPC connect, then DescribeNamespace (the dev server creates it while starting). */
export async function probeTemporal(address: string, namespace: string): Promise<Health> {
  const [host, portText] = splitHostPort(address);
  // A refused TCP connect answers at once; gRPC would instead retry until its connect timeout.
  if (portText && !(await portAnswers(Number(portText), host, PROBE_TIMEOUT_MS))) {
    return { ok: false, reason: `nothing listens on ${address}` };
  }
  let connection: Connection | undefined;
  try {
    const conn = await Connection.connect({ address, connectTimeout: PROBE_TIMEOUT_MS });
    connection = conn;
    // A deadline keeps one probe bounded when the server accepts but does not answer yet.
    await conn.withDeadline(Date.now() + PROBE_TIMEOUT_MS, () =>
      conn.workflowService.describeNamespace({ namespace }),
    );
    return OK;
  } catch (err) {
    return { ok: false, reason: `Temporal at ${address} (namespace ${namespace}): ${describe(err)}` };
  } finally {
    await connection?.close().catch(() => undefined);
  }
}

/** DynamoDB (dynalite or real): one ListTables call. */
export async function probeDynamo(endpoint: string, region: string, external: boolean): Promise<Health> {
  const client = new DynamoDBClient({
    endpoint,
    region,
    maxAttempts: 1,
    requestHandler: { requestTimeout: PROBE_TIMEOUT_MS, connectionTimeout: PROBE_TIMEOUT_MS },
    // The embedded dynalite accepts any credentials; an external endpoint uses the normal AWS chain.
    ...(external ? {} : { credentials: { accessKeyId: 'local', secretAccessKey: 'local' } }),
  });
  try {
    await client.send(new ListTablesCommand({ Limit: 1 }));
    return OK;
  } catch (err) {
    return { ok: false, reason: `ListTables on ${endpoint}: ${describe(err)}` };
  } finally {
    client.destroy();
  }
}

/**
 * Polls `probe` until it passes. Stops early, with the reason, when `stillRunning` says the process
 * exited (no point waiting for a dead server) or when `timeoutMs` runs out.
 */
export async function waitForHealthy(
  probe: () => Promise<Health>,
  opts: { timeoutMs: number; intervalMs?: number; stillRunning?: () => boolean },
): Promise<Health> {
  const deadline = Date.now() + opts.timeoutMs;
  let last: Health = { ok: false, reason: 'not probed yet' };
  for (;;) {
    last = await probe();
    if (last.ok) return last;
    if (opts.stillRunning && !opts.stillRunning()) {
      return { ok: false, reason: `the process exited while starting (last probe: ${last.reason})` };
    }
    if (Date.now() >= deadline) {
      return {
        ok: false,
        reason: `no healthy answer within ${Math.round(opts.timeoutMs / 1000)} s (last probe: ${last.reason})`,
      };
    }
    await sleep(opts.intervalMs ?? 150);
  }
}

function splitHostPort(address: string): [string, string | undefined] {
  const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(address);
  return m ? [m[1] ?? address, m[2]] : [address, undefined];
}

function describe(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    const cause = err.cause instanceof Error ? ` (${err.cause.message})` : '';
    return `${code ? `${code} ` : ''}${err.message}${cause}`.split('\n')[0] ?? String(err);
  }
  return String(err);
}
