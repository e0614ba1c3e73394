// Injected status faults through the real SDKs: faultStatus at faultRate, in each API's error shape.
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import { APIError, AuthenticationError } from 'openai';
import { startEmulator, type EmulatorHandle } from '../../dev/emulator/server';
import { getMetrics, ollamaClient, openAiClient, postJson } from './helpers';

const chat = { model: 'gpt-4o-mini', messages: [{ role: 'user' as const, content: 'ping' }] };
const ollamaChat = {
  model: 'llama3.1:8b',
  messages: [{ role: 'user', content: 'ping' }],
  stream: false as const,
};

void describe('status faults', () => {
  let emulator: EmulatorHandle;
  before(async () => {
    emulator = await startEmulator({ port: 0, latencyMs: 0, jitterMs: 0 });
  });
  afterEach(() => {
    emulator.updateSettings({ faultStatus: undefined, faultRate: 0, providerModel: 'refusing' });
    emulator.reset();
  });
  after(() => emulator.close());

  void test('faultStatus 401 at rate 1: both SDKs see a 401, chat and embeddings, each counted', async () => {
    emulator.updateSettings({ faultStatus: 401, faultRate: 1 });
    emulator.reset();
    const openai = openAiClient(emulator.url);
    for (const call of [
      () => openai.chat.completions.create(chat),
      () => openai.embeddings.create({ model: 'text-embedding-3-small', input: 'x' }),
    ]) {
      const err = await call().then(
        () => undefined,
        (e: unknown) => e,
      );
      assert.ok(err instanceof AuthenticationError, String(err));
      assert.equal(err.status, 401);
      assert.equal(err.code, 'invalid_api_key');
      assert.equal(err.type, 'invalid_request_error');
      assert.match(err.message, /injected/);
    }
    const ollama = ollamaClient(emulator.url);
    for (const call of [
      () => ollama.chat(ollamaChat),
      () => ollama.embed({ model: 'nomic-embed-text', input: 'x' }),
    ]) {
      await assert.rejects(call(), (err: { status_code?: number; error?: string }) => {
        assert.equal(err.status_code, 401);
        assert.match(err.error ?? '', /^unauthorized/);
        return true;
      });
    }
    const m = await getMetrics(emulator.url);
    assert.equal(m.statusFaults, 4);
    assert.equal(m.requests, 4);
    assert.equal(m.byEndpoint['/api/embed']?.statusFaults, 1);
    assert.equal(m.inFlight, 0);
  });

  void test('faultStatus in the queueing model answers at once, without a slot', async () => {
    emulator.updateSettings({ providerModel: 'queueing', faultStatus: 503, faultRate: 1 });
    emulator.reset();
    const raw = await postJson(`${emulator.url}/v1/chat/completions`, chat);
    assert.equal(raw.status, 503);
    const body = raw.body as { error: { type: string; code: string | null; message: string } };
    assert.equal(body.error.type, 'server_error');
    assert.match(body.error.message, /injected/);
    const m = await getMetrics(emulator.url);
    assert.equal(m.statusFaults, 1);
    assert.equal(m.inFlightMax + m.queuedMax, 0, 'never queued nor served');
  });

  void test('faultRate 0.5 answers about half with the status, seeded: the same seed gives the same statuses', async () => {
    const run = async () => {
      emulator.updateSettings({ faultStatus: 429, faultRate: 0.5, seed: 5 });
      emulator.reset();
      const client = openAiClient(emulator.url);
      const statuses: number[] = [];
      for (let i = 0; i < 40; i++) {
        statuses.push(
          await client.chat.completions.create(chat).then(
            () => 200,
            (err: unknown) => (err instanceof APIError ? (err.status ?? -1) : -1),
          ),
        );
      }
      return statuses;
    };
    const first = await run();
    const faults = first.filter((s) => s === 429).length;
    assert.ok(faults >= 10 && faults <= 30, `429s: ${faults} of 40`);
    assert.ok(first.every((s) => s === 200 || s === 429));
    assert.equal((await getMetrics(emulator.url)).statusFaults, faults);
    assert.deepEqual(await run(), first);
  });

  void test('settings reject a status that is not an error and a rate above 1, naming them', () => {
    assert.throws(() => emulator.updateSettings({ faultStatus: 200 }), /faultStatus/);
    assert.throws(() => emulator.updateSettings({ faultRate: 1.5 }), /faultRate/);
  });
});
