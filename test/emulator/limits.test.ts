// Limits: the concurrency cap and the requests-per-minute window refuse with Retry-After; inFlight never passes the cap.
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import { APIError } from 'openai';
import { startEmulator, type EmulatorHandle } from '../../dev/emulator/server';
import { getMetrics, ollamaClient, openAiClient, postJson } from './helpers';

const chat = { model: 'gpt-4o-mini', messages: [{ role: 'user' as const, content: 'ping' }] };

void describe('limits', () => {
  let emulator: EmulatorHandle;
  before(async () => {
    emulator = await startEmulator({ port: 0, latencyMs: 300, jitterMs: 0 });
  });
  afterEach(() => {
    emulator.updateSettings({ maxConcurrency: 64, rpm: 0, rateLimitStatus: 429, latencyMs: 300 });
    emulator.reset();
  });
  after(() => emulator.close());

  void test('20 concurrent requests with maxConcurrency 4: most refused with Retry-After, never more than 4 in flight', async () => {
    // Calls of 2 s: all 20 arrive while the first 4 are in flight, however busy the machine.
    emulator.updateSettings({ maxConcurrency: 4, retryAfterS: 2, latencyMs: 2000 });
    emulator.reset();
    const client = openAiClient(emulator.url);
    const outcomes = await Promise.all(
      Array.from({ length: 20 }, () =>
        client.chat.completions.create(chat).then(
          () => ({ ok: true as const }),
          (err: unknown) => {
            assert.ok(err instanceof APIError, String(err));
            return {
              ok: false as const,
              status: err.status,
              retryAfter: err.headers?.get('retry-after'),
              retryAfterMs: err.headers?.get('retry-after-ms'),
            };
          },
        ),
      ),
    );
    const refused = outcomes.filter((o) => !o.ok);
    assert.ok(refused.length >= 12, `at least 12 of 20 refused, got ${refused.length}`);
    for (const r of refused) {
      assert.equal(r.status, 429);
      assert.equal(r.retryAfter, '2');
      assert.equal(r.retryAfterMs, '2000');
    }
    const m = await getMetrics(emulator.url);
    assert.equal(m.requests, 20);
    assert.equal(m.rateLimited, refused.length);
    assert.equal(m.inFlight, 0);
    assert.ok(m.inFlightMax <= 4 && m.inFlightMax >= 1, `inFlightMax ${m.inFlightMax}`);
    assert.ok(m.series.length >= 2, 'the series recorded the changes');
    assert.ok(
      m.series.every((p) => p.inFlight <= 4 && p.max <= 4),
      'no series point above the cap',
    );
    assert.equal(Math.max(...m.series.map((p) => p.max)), m.inFlightMax);
    assert.deepEqual(
      m.series.map((p) => p.t),
      [...m.series.map((p) => p.t)].sort((a, b) => a - b),
      'series is ordered in time',
    );
  });

  void test('rpm 5: the 6th request in the minute is refused with 429 and Retry-After', async () => {
    emulator.updateSettings({ rpm: 5, latencyMs: 0, retryAfterS: 1 });
    emulator.reset();
    const client = openAiClient(emulator.url);
    for (let i = 0; i < 5; i++) await client.chat.completions.create(chat);
    const sixth = await client.chat.completions.create(chat).then(
      () => undefined,
      (err: unknown) => err,
    );
    assert.ok(sixth instanceof APIError, 'sixth request refused');
    assert.equal(sixth.status, 429);
    assert.equal(sixth.headers?.get('retry-after'), '1');
    assert.equal((sixth.error as { code?: string }).code, 'rate_limit_exceeded');
    const m = await getMetrics(emulator.url);
    assert.equal(m.requests, 6);
    assert.equal(m.rateLimited, 1);
  });

  void test('Ollama answers a full queue with 503, a JSON error and Retry-After when rateLimitStatus is 503', async () => {
    emulator.updateSettings({ rpm: 1, latencyMs: 0, rateLimitStatus: 503 });
    emulator.reset();
    await ollamaClient(emulator.url).chat({
      model: 'llama3.1:8b',
      messages: [{ role: 'user', content: 'ping' }],
    });
    const res = await postJson(`${emulator.url}/api/chat`, {
      model: 'llama3.1:8b',
      messages: [{ role: 'user', content: 'ping' }],
      stream: false,
    });
    assert.equal(res.status, 503);
    assert.equal(res.headers.get('retry-after'), '1');
    assert.match((res.body as { error: string }).error, /server busy/);
    await assert.rejects(
      ollamaClient(emulator.url).chat({
        model: 'llama3.1:8b',
        messages: [{ role: 'user', content: 'ping' }],
      }),
      (err: { status_code?: number }) => err.status_code === 503,
    );
  });
});
