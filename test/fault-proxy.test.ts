// The fault proxy in front of a real local HTTP server: pass-through, delay, injected errors (a 5xx,
// DynamoDB throttling as the AWS SDK reads it), blackhole, refused connections, and recovery.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type net from 'node:net';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { CONTROL_PREFIX, dynamoThrottling, startFaultProxy, type FaultProxy } from '../dev/stack/fault-proxy';

interface Seen {
  method: string;
  url: string;
  body: string;
  host: string;
}

/** GET on a new connection (no pooling): the status, or the connection error's code. */
function freshGet(port: number, path: string): Promise<number | string> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
  });
}

describe('fault proxy', { timeout: 60_000 }, () => {
  let upstream: http.Server;
  let proxy: FaultProxy;
  const seen: Seen[] = [];
  before(async () => {
    upstream = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        seen.push({ method: req.method!, url: req.url!, body, host: req.headers.host ?? '' });
        res.writeHead(200, { 'content-type': 'application/json', 'x-upstream': 'yes' });
        res.end(JSON.stringify({ echo: body, url: req.url }));
      });
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    const port = (upstream.address() as net.AddressInfo).port;
    proxy = await startFaultProxy({ target: `http://127.0.0.1:${port}` });
  });
  after(async () => {
    await proxy?.close();
    await new Promise((r) => upstream.close(r));
  });

  test('passes requests through unchanged, Host header included, and answers unchanged', async () => {
    seen.length = 0;
    const res = await fetch(`${proxy.url}/a/b?c=1`, { method: 'POST', body: 'hello' });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-upstream'), 'yes');
    assert.deepEqual(await res.json(), { echo: 'hello', url: '/a/b?c=1' });
    assert.deepEqual(seen, [
      { method: 'POST', url: '/a/b?c=1', body: 'hello', host: `127.0.0.1:${proxy.port}` },
    ]);
  });

  test('a delay holds matching requests back while others pass', async () => {
    seen.length = 0;
    await proxy.inject({ kind: 'delay', delayMs: 1500 }, { match: /\/slow/ });
    const slow = fetch(`${proxy.url}/slow`).then((r) => r.json());
    const fast = await fetch(`${proxy.url}/fast`).then((r) => r.json());
    assert.deepEqual(fast, { echo: '', url: '/fast' });
    assert.deepEqual(
      seen.map((s) => s.url),
      ['/fast'],
      'the delayed request has not reached the server when the other one is answered',
    );
    assert.deepEqual(await slow, { echo: '', url: '/slow' });
    assert.deepEqual(
      seen.map((s) => s.url),
      ['/fast', '/slow'],
    );
    await proxy.clear();
  });

  test('an injected 5xx answers without reaching the server, for the given share of requests', async () => {
    seen.length = 0;
    const before = proxy.stats().faulted.fail;
    await proxy.inject({ kind: 'fail', status: 503, body: 'down' }, { rate: 0.5 });
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) {
      const res = await fetch(`${proxy.url}/x${i}`);
      statuses.push(res.status);
      await res.arrayBuffer();
    }
    assert.deepEqual(statuses, [200, 503, 200, 503]);
    assert.deepEqual(
      seen.map((s) => s.url),
      ['/x0', '/x2'],
    );
    assert.equal(proxy.stats().faulted.fail - before, 2);
    await proxy.clear();
  });

  test('injected DynamoDB throttling is read by the AWS SDK as ProvisionedThroughputExceededException', async () => {
    await proxy.inject(dynamoThrottling());
    const ddb = new DynamoDBClient({
      endpoint: proxy.url,
      region: 'us-east-1',
      credentials: { accessKeyId: 'x', secretAccessKey: 'y' },
      maxAttempts: 1,
    });
    await assert.rejects(ddb.send(new ListTablesCommand({})), (err: Error & { $retryable?: unknown }) => {
      assert.equal(err.name, 'ProvisionedThroughputExceededException');
      return true;
    });
    await proxy.inject(dynamoThrottling('ThrottlingException'));
    await assert.rejects(ddb.send(new ListTablesCommand({})), { name: 'ThrottlingException' });
    ddb.destroy();
    await proxy.clear();
  });

  test('a blackhole never answers; when it ends the held request fails and new ones pass', async () => {
    seen.length = 0;
    await proxy.inject({ kind: 'blackhole' });
    let settled = false;
    const held = fetch(`${proxy.url}/held`).then(
      () => 'answered',
      (err: Error) => `failed: ${String((err.cause as Error | undefined)?.message ?? err.message)}`,
    );
    void held.then(() => (settled = true));
    // The proxy has accepted it (its count rose) and neither answered nor forwarded it.
    for (let i = 0; proxy.stats().faulted.blackhole === 0 && i < 200; i++)
      await new Promise((r) => setTimeout(r, 10));
    assert.equal(proxy.stats().faulted.blackhole, 1);
    assert.equal(settled, false);
    assert.equal(seen.length, 0, 'nothing forwarded');
    await proxy.clear();
    assert.match(await held, /^failed: /);
    const res = await fetch(`${proxy.url}/after`);
    assert.equal(res.status, 200);
    await res.arrayBuffer();
    assert.deepEqual(
      seen.map((s) => s.url),
      ['/after'],
    );
  });

  test('refused connections for a period, then recovery on the same port', async () => {
    await proxy.inject({ kind: 'refuse' }, { forMs: 800 });
    assert.equal(await freshGet(proxy.port, '/refused'), 'ECONNREFUSED');
    // The period ends by itself: the proxy listens again on the same port.
    const isActive = () => proxy.active !== undefined;
    for (let i = 0; isActive() && i < 300; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(isActive(), false);
    assert.equal(await freshGet(proxy.port, '/back'), 200);
  });

  test('reset drops every connection (counted); an armed fault starts after the requests it waits for', async () => {
    seen.length = 0;
    await proxy.inject({ kind: 'reset' }, { afterRequests: 2, forMs: 60_000 });
    assert.equal(await freshGet(proxy.port, '/first'), 200);
    assert.equal(proxy.active, undefined, 'armed, not active, after one request');
    assert.equal(await freshGet(proxy.port, '/second'), 200, 'the request that trips it passes');
    const before = proxy.stats().faulted.reset;
    assert.equal(await freshGet(proxy.port, '/dropped'), 'ECONNRESET');
    assert.equal(proxy.stats().faulted.reset - before, 1);
    assert.deepEqual(
      seen.map((x) => x.url),
      ['/first', '/second'],
    );
    await proxy.clear();
    assert.equal(await freshGet(proxy.port, '/recovered'), 200);
  });

  test('the control API sets and clears a fault and reports stats; a bad fault is refused', async () => {
    const put = await fetch(`${proxy.url}${CONTROL_PREFIX}fault`, {
      method: 'PUT',
      body: JSON.stringify({ kind: 'fail', status: 500, match: 'GetItem' }),
    });
    assert.equal(put.status, 200);
    await put.arrayBuffer();
    const hit = await fetch(`${proxy.url}/`, {
      method: 'POST',
      headers: { 'x-amz-target': 'DynamoDB_20120810.GetItem' },
      body: '{}',
    });
    assert.equal(hit.status, 500);
    await hit.arrayBuffer();
    const missed = await fetch(`${proxy.url}/`, {
      method: 'POST',
      headers: { 'x-amz-target': 'DynamoDB_20120810.PutItem' },
      body: '{}',
    });
    assert.equal(missed.status, 200);
    await missed.arrayBuffer();
    const cleared = await fetch(`${proxy.url}${CONTROL_PREFIX}fault`, { method: 'DELETE' });
    assert.equal(cleared.status, 200);
    await cleared.arrayBuffer();
    assert.equal(proxy.active, undefined);
    const stats = (await (await fetch(`${proxy.url}${CONTROL_PREFIX}stats`)).json()) as { requests: number };
    assert.equal(stats.requests, proxy.stats().requests);
    const bad = await fetch(`${proxy.url}${CONTROL_PREFIX}fault`, {
      method: 'PUT',
      body: JSON.stringify({ kind: 'fail', status: 200 }),
    });
    assert.equal(bad.status, 400);
    assert.match(((await bad.json()) as { error: string }).error, /status must be an HTTP error status/);
  });
});
