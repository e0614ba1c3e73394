// A fault-injecting HTTP proxy on 127.0.0.1 in front of one service of the stack (dynalite, s3rver,
// Chroma): it forwards requests unchanged (Host header included, so S3 signatures stay valid) and,
// for a period set by a test, delays them, answers them with an error (HTTP 5xx, DynamoDB
// throttling), holds them without an answer (blackhole) or refuses connections.
// In process: `startFaultProxy({ target })`; from another process: the control API under
// `/__fault-proxy/` (PUT fault, DELETE fault, GET stats) or `npx tsx dev/stack/fault-proxy.ts`.
import http from 'node:http';
import type net from 'node:net';

/** What a fault does to the requests it hits. */
export type FaultSpec =
  | { kind: 'delay'; delayMs: number }
  | { kind: 'fail'; status: number; body?: string; headers?: Record<string, string> }
  | { kind: 'blackhole' }
  /** Connections accepted and dropped at once (counted; the client sees a reset). */
  | { kind: 'reset' }
  /** Nothing listens: connections are refused (counted once per period). */
  | { kind: 'refuse' };

export interface FaultOptions {
  /** How long the fault lasts; until `clear()` when absent. */
  forMs?: number;
  /** Share of the requests hit (deterministic: every 1/rate-th request). @default 1 */
  rate?: number;
  /** Only requests whose method, path or X-Amz-Target matches this pattern are hit. */
  match?: RegExp;
  /**
   * Arms the fault: it starts when this many more requests have been received (they pass), so a
   * test can start it at the first request a run makes of the service. @default 0 (starts now)
   */
  afterRequests?: number;
}

export interface FaultProxyStats {
  /** Requests received (control requests excluded). */
  requests: number;
  /** Requests forwarded to the target. */
  forwarded: number;
  /** Requests a fault hit, by kind (a refused connection counts once per connection). */
  faulted: Record<FaultSpec['kind'], number>;
  /** Forwarded requests that failed at the target (connection error). */
  upstreamErrors: number;
}

export interface FaultProxy {
  /** Base URL of the proxy (`http://127.0.0.1:<port>`): the endpoint to give clients. */
  url: string;
  port: number;
  target: string;
  /** Starts (or arms, with `afterRequests`) a fault, replacing any current one. */
  inject(fault: FaultSpec, opts?: FaultOptions): Promise<void>;
  /** Ends the current fault now: held requests are dropped, a refusing proxy listens again. */
  clear(): Promise<void>;
  /** The current fault, if any. */
  readonly active: (FaultSpec & FaultOptions) | undefined;
  stats(): FaultProxyStats;
  close(): Promise<void>;
}

export interface StartFaultProxyOptions {
  /** Base URL of the service behind the proxy, e.g. `http://127.0.0.1:4567`. */
  target: string;
  /** Port on 127.0.0.1; 0 lets the OS pick. @default 0 */
  port?: number;
}

/** Prefix of the control API; never forwarded. */
export const CONTROL_PREFIX = '/__fault-proxy/';

/** The error DynamoDB answers when a table's throughput is exceeded (retryable throttling). */
export function dynamoThrottling(
  type:
    | 'ProvisionedThroughputExceededException'
    | 'ThrottlingException' = 'ProvisionedThroughputExceededException',
): FaultSpec {
  return {
    kind: 'fail',
    status: 400,
    headers: { 'content-type': 'application/x-amz-json-1.0' },
    body: JSON.stringify({
      __type: `com.amazonaws.dynamodb.v20120810#${type}`,
      message: 'Rate of requests exceeds the allowed throughput (injected by the fault proxy).',
    }),
  };
}

/** An HTTP 503 with a body naming the proxy (S3 clients read it as a retryable ServiceUnavailable). */
export function serviceUnavailable(): FaultSpec {
  return {
    kind: 'fail',
    status: 503,
    headers: { 'content-type': 'application/xml' },
    body: '<?xml version="1.0" encoding="UTF-8"?><Error><Code>ServiceUnavailable</Code><Message>Injected by the fault proxy.</Message></Error>',
  };
}

export async function startFaultProxy(opts: StartFaultProxyOptions): Promise<FaultProxy> {
  const server = new FaultProxyServer(new URL(opts.target));
  await server.listen(opts.port ?? 0);
  const url = `http://127.0.0.1:${server.port}`;
  return {
    url,
    port: server.port,
    target: opts.target,
    inject: (fault, faultOpts = {}) => server.inject(fault, faultOpts),
    clear: () => server.end(),
    get active() {
      return server.active;
    },
    stats: () => structuredClone(server.stats),
    close: () => server.close(),
  };
}

/** The proxy's state and its request path; `startFaultProxy` hands out its public face. */
class FaultProxyServer {
  readonly stats: FaultProxyStats = {
    requests: 0,
    forwarded: 0,
    faulted: { delay: 0, fail: 0, blackhole: 0, reset: 0, refuse: 0 },
    upstreamErrors: 0,
  };
  active: (FaultSpec & FaultOptions) | undefined;
  port = 0;
  private armed: { fault: FaultSpec; opts: FaultOptions; remaining: number } | undefined;
  private endTimer: NodeJS.Timeout | undefined;
  /** Requests the current fault has considered (for its rate). */
  private seen = 0;
  private readonly held = new Set<http.ServerResponse>();
  private readonly sockets = new Set<net.Socket>();
  private readonly agent = new http.Agent({ keepAlive: true });
  private readonly server = http.createServer((req, res) => this.handle(req, res));

  constructor(private readonly target: URL) {
    this.server.keepAliveTimeout = 5_000;
    this.server.on('connection', (socket) => {
      if (this.active?.kind === 'reset') {
        this.stats.faulted.reset++;
        return void socket.destroy();
      }
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
  }

  listen(port = this.port): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, '127.0.0.1', () => {
        this.server.off('error', reject);
        this.port = (this.server.address() as net.AddressInfo).port;
        resolve();
      });
    });
  }

  async inject(fault: FaultSpec, opts: FaultOptions): Promise<void> {
    validateFault(fault, opts);
    await this.end();
    if (opts.afterRequests) this.armed = { fault, opts, remaining: opts.afterRequests };
    else await this.start(fault, opts);
  }

  /** Ends the current fault: held requests are dropped (never answered), a refusing proxy listens again. */
  async end(): Promise<void> {
    if (this.endTimer) clearTimeout(this.endTimer);
    this.endTimer = undefined;
    const was = this.active;
    this.active = undefined;
    this.armed = undefined;
    for (const res of this.held) res.socket?.destroy();
    this.held.clear();
    if (was?.kind === 'refuse') await this.listen();
  }

  async close(): Promise<void> {
    await this.end();
    await this.stopListening();
    this.agent.destroy();
  }

  /** `spare`: the connection of the request that tripped an armed fault, still being answered. */
  private async start(fault: FaultSpec, opts: FaultOptions, spare?: net.Socket): Promise<void> {
    this.active = { ...fault, ...opts };
    this.seen = 0;
    if (fault.kind === 'refuse') {
      this.stats.faulted.refuse++;
      await this.stopListening(spare);
    }
    // Open connections are dropped too, or keep-alive clients would never see the outage.
    if (fault.kind === 'reset') for (const s of this.sockets) if (s !== spare) s.destroy();
    if (opts.forMs !== undefined) this.endTimer = setTimeout(() => void this.end(), opts.forMs);
  }

  /** Stops listening (new connections are refused) and drops the open ones. */
  private stopListening(spare?: net.Socket): Promise<void> {
    return new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      for (const s of this.sockets) if (s !== spare) s.destroy();
    });
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    if (req.url?.startsWith(CONTROL_PREFIX)) return void handleControl(this, req, res);
    this.stats.requests++;
    if (this.armed && --this.armed.remaining <= 0) return this.trip(req, res);
    const fault = this.hits(req) ? this.active : undefined;
    if (!fault) return this.forward(req, res);
    this.stats.faulted[fault.kind]++;
    if (fault.kind === 'delay') {
      const timer = setTimeout(() => this.forward(req, res), fault.delayMs);
      res.on('close', () => clearTimeout(timer));
    } else if (fault.kind === 'fail') {
      req.resume();
      req.on('end', () => {
        res.writeHead(fault.status, fault.headers ?? { 'content-type': 'text/plain' });
        res.end(fault.body ?? `fault proxy: injected HTTP ${fault.status}`);
      });
    } else {
      // blackhole (reset and refuse never get here: their connections are closed on accept)
      req.resume();
      this.held.add(res);
      res.on('close', () => this.held.delete(res));
    }
  }

  /** The request that trips an armed fault passes; the fault starts behind it. */
  private trip(req: http.IncomingMessage, res: http.ServerResponse): void {
    const { fault, opts } = this.armed!;
    this.armed = undefined;
    this.forward(req, res);
    // Its connection goes once answered, if the fault is one of connections.
    res.on('finish', () => {
      if (this.active?.kind === 'reset' || this.active?.kind === 'refuse') req.socket.destroy();
    });
    void this.start(fault, opts, req.socket);
  }

  private hits(req: http.IncomingMessage): boolean {
    const active = this.active;
    if (!active) return false;
    if (active.match && !active.match.test(requestLabel(req))) return false;
    const rate = active.rate ?? 1;
    this.seen++;
    return Math.floor(this.seen * rate) > Math.floor((this.seen - 1) * rate);
  }

  private forward(req: http.IncomingMessage, res: http.ServerResponse): void {
    this.stats.forwarded++;
    const { hostname, port } = this.target;
    const upstream = http.request(
      { host: hostname, port, method: req.method, path: req.url, headers: req.headers, agent: this.agent },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', (err) => {
      this.stats.upstreamErrors++;
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`fault proxy: ${this.target.origin} failed: ${err.message}`);
    });
    req.pipe(upstream);
  }
}

/** The control API: PUT fault (a FaultSpec with forMs, rate, match as a regex string, afterRequests), DELETE fault, GET stats. */
async function handleControl(
  proxy: FaultProxyServer,
  req: http.IncomingMessage,
  res: http.ServerResponse,
): Promise<void> {
  const reply = (status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  try {
    const what = req.url!.slice(CONTROL_PREFIX.length);
    if (what === 'stats' && req.method === 'GET') return reply(200, proxy.stats);
    if (what === 'fault' && req.method === 'DELETE') {
      await proxy.end();
      return reply(200, { cleared: true });
    }
    if (what === 'fault' && req.method === 'PUT') {
      const body = JSON.parse(await readBody(req)) as FaultSpec & {
        forMs?: number;
        rate?: number;
        match?: string;
        afterRequests?: number;
      };
      const { forMs, rate, match, afterRequests, ...spec } = body;
      await proxy.inject(spec as FaultSpec, {
        ...(forMs !== undefined ? { forMs } : {}),
        ...(rate !== undefined ? { rate } : {}),
        ...(match !== undefined ? { match: new RegExp(match) } : {}),
        ...(afterRequests !== undefined ? { afterRequests } : {}),
      });
      return reply(200, { active: proxy.active });
    }
    reply(404, { error: `unknown control request ${req.method} ${req.url}` });
  } catch (err) {
    reply(400, { error: (err as Error).message });
  }
}

/** What a fault's `match` is tested against: `METHOD path X-Amz-Target`. */
function requestLabel(req: http.IncomingMessage): string {
  return `${req.method} ${req.url} ${String(req.headers['x-amz-target'] ?? '')}`;
}

function validateFault(fault: FaultSpec, opts: FaultOptions): void {
  const problems: string[] = [];
  if (!['delay', 'fail', 'blackhole', 'reset', 'refuse'].includes(fault.kind))
    problems.push(`kind must be delay, fail, blackhole, reset or refuse, got ${JSON.stringify(fault.kind)}`);
  if (fault.kind === 'delay' && !(fault.delayMs >= 0)) problems.push('delayMs must be >= 0');
  if (
    fault.kind === 'fail' &&
    !(Number.isInteger(fault.status) && fault.status >= 400 && fault.status <= 599)
  )
    problems.push('status must be an HTTP error status (400-599)');
  if (opts.rate !== undefined && !(opts.rate > 0 && opts.rate <= 1)) problems.push('rate must be in (0, 1]');
  if (opts.forMs !== undefined && !(opts.forMs >= 0)) problems.push('forMs must be >= 0');
  if ((fault.kind === 'refuse' || fault.kind === 'reset') && (opts.rate !== undefined || opts.match))
    problems.push(`a ${fault.kind} fault hits every connection: no rate or match`);
  if (opts.afterRequests !== undefined && !(Number.isInteger(opts.afterRequests) && opts.afterRequests >= 0))
    problems.push('afterRequests must be an integer >= 0');
  if (problems.length) throw new RangeError(`invalid fault: ${problems.join('; ')}`);
}

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => resolve(body));
    req.on('error', reject);
  });
}

if (require.main === module) {
  // npx tsx dev/stack/fault-proxy.ts --target http://127.0.0.1:4567 [--port 5567]
  const argv = process.argv.slice(2);
  const arg = (name: string) => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const target = arg('target');
  if (!target) {
    console.error('usage: fault-proxy --target <url> [--port <port>]');
    process.exit(2);
  }
  void startFaultProxy({ target, port: Number(arg('port') ?? 0) }).then((p) => {
    console.log(`fault proxy ${p.url} -> ${target}; control: ${p.url}${CONTROL_PREFIX}{fault,stats}`);
  });
}
