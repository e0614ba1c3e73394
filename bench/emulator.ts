// Throughput of the LLM provider emulator: keep-alive load on /v1/chat/completions (small schema) and
// /api/embed from a child process (so the load does not share the server's event loop); prints a table.
// Run: npx tsx bench/emulator.ts [--duration-s 5] [--concurrency 64] [--items 3]
import { fork } from 'node:child_process';
import http from 'node:http';
import { parseArgs } from 'node:util';
import { answerJsonSchema, renderEnvelope } from '../src/domain/llm-tasks';
import { startEmulator } from '../dev/emulator/server';

export interface EmulatorBenchOptions {
  /** Measured seconds (after a short warm-up). @default 5 */
  durationS?: number;
  /** Requests kept in flight by the load generator. @default 64 */
  concurrency?: number;
  /** Words per label-review chat prompt (the pipelines send 20). @default 3 */
  itemsPerPrompt?: number;
}

export interface EndpointBenchRow {
  endpoint: string;
  requests: number;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  failures: number;
}

export interface EmulatorBenchResult {
  requestsPerSecond: number;
  requests: number;
  durationS: number;
  concurrency: number;
  itemsPerPrompt: number;
  byEndpoint: EndpointBenchRow[];
  /** Peak of requests in flight as the emulator saw them. */
  serverInFlightMax: number;
}

const WARMUP_MS = 500;
const LOAD_FLAG = '--emulator-load-child';

interface LoadReport {
  byEndpoint: Record<string, { latencies: number[]; failures: number }>;
  measuredMs: number;
}

function chatBody(n: number, itemsPerPrompt: number): string {
  const items = Array.from({ length: itemsPerPrompt }, (_, k) => ({
    id: `w${n}-${k}`,
    text: `TOTAL ${n + k}`,
    label: 'GRAND_TOTAL',
  }));
  return JSON.stringify({
    model: 'gpt-4o-mini',
    messages: [
      { role: 'system', content: 'You review labels of receipt words. Answer JSON only.' },
      { role: 'user', content: `Review these words.\n${renderEnvelope({ task: 'label_review', items })}` },
    ],
    response_format: {
      type: 'json_schema',
      json_schema: { name: 'label_review', schema: answerJsonSchema('label_review'), strict: true },
    },
  });
}

function embedBody(n: number): string {
  return JSON.stringify({ model: 'nomic-embed-text', input: [`GRAND TOTAL ${n}`, 'banana'] });
}

/** The child's side: keep `concurrency` requests in flight until the time is up, then report. */
async function generateLoad(
  url: string,
  durationS: number,
  concurrency: number,
  itemsPerPrompt: number,
): Promise<LoadReport> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const target = new URL(url);
  const endpoints = [
    { path: '/v1/chat/completions', body: (n: number) => chatBody(n, itemsPerPrompt) },
    { path: '/api/embed', body: embedBody },
  ];
  const report: LoadReport = { byEndpoint: {}, measuredMs: durationS * 1000 };
  for (const e of endpoints) report.byEndpoint[e.path] = { latencies: [], failures: 0 };
  const start = performance.now();
  const measureFrom = start + WARMUP_MS;
  const end = measureFrom + durationS * 1000;
  let n = 0;

  const send = (path: string, body: string) =>
    new Promise<number>((resolve) => {
      const req = http.request(
        {
          host: target.hostname,
          port: target.port,
          path,
          method: 'POST',
          agent,
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        },
      );
      req.on('error', () => resolve(0));
      req.end(body);
    });

  const worker = async (w: number) => {
    while (performance.now() < end) {
      const i = n++;
      const e = endpoints[(i + w) % endpoints.length] ?? endpoints[0];
      if (!e) return;
      const t0 = performance.now();
      const status = await send(e.path, e.body(i));
      const t1 = performance.now();
      if (t0 < measureFrom || t1 > end) continue;
      const row = report.byEndpoint[e.path];
      if (!row) continue;
      if (status === 200) row.latencies.push(t1 - t0);
      else row.failures++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, (_, w) => worker(w)));
  agent.destroy();
  return report;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

function printTable(result: EmulatorBenchResult): void {
  const rows = [
    ['endpoint', 'requests', 'req/s', 'p50 ms', 'p99 ms', 'failures'],
    ...result.byEndpoint.map((r) => [
      r.endpoint,
      String(r.requests),
      r.requestsPerSecond.toFixed(0),
      r.p50Ms.toFixed(2),
      r.p99Ms.toFixed(2),
      String(r.failures),
    ]),
    [
      'total',
      String(result.requests),
      result.requestsPerSecond.toFixed(0),
      '',
      '',
      String(result.byEndpoint.reduce((s, r) => s + r.failures, 0)),
    ],
  ];
  const widths = rows[0]?.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length))) ?? [];
  const line = (r: string[]) =>
    '| ' +
    r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c] ?? 0) : cell.padStart(widths[c] ?? 0))).join(' | ') +
    ' |';
  const out = [
    line(rows[0] ?? []),
    '|' +
      widths.map((w, c) => (c === 0 ? ':' : '') + '-'.repeat(w + 1) + (c === 0 ? '' : ':')).join('|') +
      '|',
    ...rows.slice(1).map(line),
  ];
  process.stdout.write(
    `emulator throughput: ${result.durationS} s, ${result.concurrency} concurrent keep-alive requests from a child process, ${result.itemsPerPrompt} words per chat prompt\n`,
  );
  process.stdout.write(out.join('\n') + '\n');
  process.stdout.write(`server inFlightMax: ${result.serverInFlightMax}\n`);
}

/** Starts an emulator (no latency, no limits), loads it from a child process, and measures. */
export async function benchEmulator(opts: EmulatorBenchOptions = {}): Promise<EmulatorBenchResult> {
  const durationS = opts.durationS ?? 5;
  const concurrency = opts.concurrency ?? 64;
  const itemsPerPrompt = opts.itemsPerPrompt ?? 3;
  const emulator = await startEmulator({
    port: 0,
    latencyMs: 0,
    jitterMs: 0,
    maxConcurrency: 1_000_000,
    rpm: 0,
    log: () => undefined,
  });
  try {
    const child = fork(
      __filename,
      [LOAD_FLAG, emulator.url, String(durationS), String(concurrency), String(itemsPerPrompt)],
      {
        execArgv: ['--import', 'tsx'],
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      },
    );
    const report = await new Promise<LoadReport>((resolve, reject) => {
      child.once('message', (m) => resolve(m as LoadReport));
      child.once('error', reject);
      child.once('exit', (code) =>
        reject(new Error(`load generator exited with code ${code} before reporting`)),
      );
    });
    const byEndpoint = Object.entries(report.byEndpoint).map(([endpoint, r]) => {
      const sorted = r.latencies.sort((a, b) => a - b);
      return {
        endpoint,
        requests: sorted.length,
        requestsPerSecond: sorted.length / durationS,
        p50Ms: percentile(sorted, 50),
        p99Ms: percentile(sorted, 99),
        failures: r.failures,
      };
    });
    const requests = byEndpoint.reduce((s, r) => s + r.requests, 0);
    return {
      requestsPerSecond: requests / durationS,
      requests,
      durationS,
      concurrency,
      itemsPerPrompt,
      byEndpoint,
      serverInFlightMax: emulator.metrics().inFlightMax,
    };
  } finally {
    await emulator.close();
  }
}

async function main(): Promise<void> {
  if (process.argv[2] === LOAD_FLAG) {
    const [, , , url, durationS, concurrency, itemsPerPrompt] = process.argv;
    const report = await generateLoad(
      url ?? '',
      Number(durationS),
      Number(concurrency),
      Number(itemsPerPrompt),
    );
    process.send?.(report, () => process.exit(0));
    return;
  }
  const { values } = parseArgs({
    options: { 'duration-s': { type: 'string' }, concurrency: { type: 'string' }, items: { type: 'string' } },
  });
  const result = await benchEmulator({
    durationS: values['duration-s'] ? Number(values['duration-s']) : undefined,
    concurrency: values.concurrency ? Number(values.concurrency) : undefined,
    itemsPerPrompt: values.items ? Number(values.items) : undefined,
  });
  printTable(result);
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  });
}
