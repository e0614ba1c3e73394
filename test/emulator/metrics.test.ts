// Metrics are exact (what the client saw is what the emulator counted); config is validated; reset zeroes.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { APIError } from 'openai';
import { startEmulator, type EmulatorHandle } from '../../dev/emulator/server';
import { getMetrics, ollamaClient, openAiClient, reviewPrompt } from './helpers';

void describe('metrics and control', () => {
  let emulator: EmulatorHandle;
  before(async () => {
    emulator = await startEmulator({ port: 0, latencyMs: 0, jitterMs: 0, seed: 9 });
  });
  after(() => emulator.close());

  void test('counts equal what the clients observed; tokens equal the usage fields returned', async () => {
    emulator.updateSettings({ errorRate: 0.25, rpm: 30 });
    emulator.reset();
    const openai = openAiClient(emulator.url);
    const ollama = ollamaClient(emulator.url);
    let sent = 0;
    let rateLimited = 0;
    let errors = 0;
    let promptTokens = 0;
    let completionTokens = 0;
    const failed = (err: unknown) => {
      const status = err instanceof APIError ? err.status : (err as { status_code?: number }).status_code;
      if (status === 429) rateLimited++;
      else if (status !== undefined && status >= 500) errors++;
      else throw err;
    };
    for (let i = 0; i < 40; i++) {
      sent++;
      try {
        if (i % 3 === 0) {
          const c = await openai.chat.completions.create({
            model: 'gpt-4o-mini',
            messages: [{ role: 'user', content: `${reviewPrompt()} #${i}` }],
          });
          assert.ok(c.usage);
          assert.equal(c.usage.total_tokens, c.usage.prompt_tokens + c.usage.completion_tokens);
          promptTokens += c.usage.prompt_tokens;
          completionTokens += c.usage.completion_tokens;
        } else if (i % 3 === 1) {
          const r = await ollama.chat({
            model: 'llama3.1:8b',
            messages: [{ role: 'user', content: `hello ${i}` }],
          });
          promptTokens += r.prompt_eval_count;
          completionTokens += r.eval_count;
        } else {
          const e = await openai.embeddings.create({
            model: 'text-embedding-3-small',
            input: [`word ${i}`, 'GRAND TOTAL'],
          });
          promptTokens += e.usage.prompt_tokens;
        }
      } catch (err) {
        failed(err);
      }
    }
    emulator.updateSettings({ errorRate: 0, rpm: 0 });
    const m = await getMetrics(emulator.url);
    assert.equal(m.requests, sent);
    assert.equal(rateLimited, 10, '30 admitted in the minute, the last 10 refused');
    assert.equal(m.rateLimited, rateLimited);
    assert.ok(errors > 0, 'some injected errors at rate 0.25');
    assert.equal(m.errors, errors);
    assert.ok(promptTokens > 0 && completionTokens > 0);
    assert.equal(m.promptTokens, promptTokens);
    assert.equal(m.completionTokens, completionTokens);
    const byEndpoint = Object.values(m.byEndpoint);
    assert.equal(
      byEndpoint.reduce((s, e) => s + e.requests, 0),
      sent,
    );
    assert.equal(m.byEndpoint['/api/chat']?.requests, 13);
    assert.equal(m.inFlight, 0);
  });

  void test('control endpoints are not counted as requests', async () => {
    emulator.reset();
    await fetch(`${emulator.url}/healthz`);
    await fetch(`${emulator.url}/_emulator/config`);
    await getMetrics(emulator.url);
    assert.equal((await getMetrics(emulator.url)).requests, 0);
  });

  void test('PUT /_emulator/config validates (400 naming the fields) and applies live', async () => {
    const before = await (await fetch(`${emulator.url}/_emulator/config`)).json();
    const bad = await fetch(`${emulator.url}/_emulator/config`, {
      method: 'PUT',
      body: JSON.stringify({ errorRate: 2, maxConcurrency: 'many', colour: 'red' }),
    });
    assert.equal(bad.status, 400);
    const body = (await bad.json()) as { error: { message: string; code: string } };
    assert.equal(body.error.code, 'invalid_settings');
    for (const field of ['errorRate', 'maxConcurrency', 'colour'])
      assert.match(body.error.message, new RegExp(field));
    assert.deepEqual(
      await (await fetch(`${emulator.url}/_emulator/config`)).json(),
      before,
      'nothing changed',
    );

    const ok = await fetch(`${emulator.url}/_emulator/config`, {
      method: 'PUT',
      body: JSON.stringify({ rpm: 120, rateLimitStatus: 503 }),
    });
    assert.equal(ok.status, 200);
    const applied = (await ok.json()) as { rpm: number; rateLimitStatus: number; seed: number };
    assert.equal(applied.rpm, 120);
    assert.equal(applied.rateLimitStatus, 503);
    assert.equal(applied.seed, 9, 'other settings kept');
    assert.equal(emulator.settings.rpm, 120);
    emulator.updateSettings({ rpm: 0, rateLimitStatus: 429 });
    assert.throws(() => emulator.updateSettings({ accuracy: -1 }), /accuracy/);
  });

  void test('reset zeroes counters; inFlightMax restarts at what is in flight now', async () => {
    emulator.updateSettings({ latencyMs: 400 });
    const slow = openAiClient(emulator.url).chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'slow' }],
    });
    while ((await getMetrics(emulator.url)).inFlight < 1) await new Promise((r) => setTimeout(r, 10));
    const res = await fetch(`${emulator.url}/_emulator/reset`, { method: 'POST' });
    assert.equal(res.status, 200);
    const m = await getMetrics(emulator.url);
    assert.equal(m.requests, 0);
    assert.equal(m.promptTokens, 0);
    assert.deepEqual(m.byEndpoint, {});
    assert.equal(m.inFlight, 1);
    assert.equal(m.inFlightMax, 1);
    await slow;
    emulator.updateSettings({ latencyMs: 0 });
    const end = await getMetrics(emulator.url);
    assert.equal(end.inFlight, 0);
    assert.equal(end.series.at(-1)?.inFlight, 0);
    assert.equal(end.completionTokens > 0, true);
  });
});
