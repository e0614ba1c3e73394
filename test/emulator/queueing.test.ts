// The queueing provider model through the real SDKs: `parallel` slots, a FIFO queue that never refuses
// while unbounded, 503 without Retry-After when full or while the model loads, waits freed by clients.
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import { APIError, APIUserAbortError } from 'openai';
import { OLLAMA_BUSY_MESSAGE } from '../../dev/emulator/ollama-wire';
import { queuedMs } from '../../src/llm/ollama';
import { startEmulator, type EmulatorHandle } from '../../dev/emulator/server';
import { type EmulatorSettings } from '../../dev/emulator/settings';
import { getMetrics, ollamaClient, openAiClient, postJson } from './helpers';

const QUEUEING: Partial<EmulatorSettings> = {
  providerModel: 'queueing',
  parallel: 2,
  maxQueue: 0,
  latencyMs: 0,
  jitterMs: 0,
  // Small answers take some tens of ms; a blocker's 20,000-token prompt takes about 20 s.
  prefillTokensPerS: 1000,
  decodeTokensPerS: 300,
  parallelSpeedup: 1.4,
};
const BLOCKER_PROMPT = 'word '.repeat(20_000);
const chat = (content = 'ping') => ({
  model: 'gpt-4o-mini',
  messages: [{ role: 'user' as const, content }],
});
const ollamaChat = (content = 'ping') => ({
  model: 'llama3.1:8b',
  messages: [{ role: 'user', content }],
  stream: false as const,
});

/** Polls the emulator's own metrics until `ready` holds (every request here ends well within the bound). */
async function until(
  emulator: EmulatorHandle,
  what: string,
  ready: (m: ReturnType<EmulatorHandle['metrics']>) => boolean,
) {
  const deadline = Date.now() + 10_000;
  while (!ready(emulator.metrics())) {
    if (Date.now() > deadline)
      throw new Error(`timed out waiting until ${what}: ${JSON.stringify(emulator.metrics())}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

/** A slow request through the openai SDK that holds its slot until `stop()` disconnects it. */
function blocker(emulator: EmulatorHandle) {
  const controller = new AbortController();
  const done = openAiClient(emulator.url)
    .chat.completions.create(chat(BLOCKER_PROMPT), { signal: controller.signal })
    .then(
      () => assert.fail('a blocker is always stopped before it is answered'),
      (err: unknown) => assert.ok(err instanceof APIUserAbortError, String(err)),
    );
  return {
    stop: () => {
      controller.abort();
      return done;
    },
  };
}

void describe('queueing provider model', () => {
  let emulator: EmulatorHandle;
  before(async () => {
    emulator = await startEmulator({ port: 0, ...QUEUEING });
  });
  afterEach(async () => {
    emulator.updateSettings({ ...QUEUEING, loadingForMs: 0 });
    await until(emulator, 'nothing is left in flight or queued', (m) => m.inFlight === 0 && m.queued === 0);
    emulator.reset();
  });
  after(() => emulator.close());

  void test('an unbounded queue never refuses: 12 at once with parallel 2 all answer 200, never more than 2 served', async () => {
    emulator.reset();
    const client = openAiClient(emulator.url);
    const answers = await Promise.all(
      Array.from({ length: 12 }, (_, i) => client.chat.completions.create(chat(`ping ${i}`)).withResponse()),
    );
    assert.ok(answers.every((a) => a.response.status === 200));
    const processingMs = answers.map((a) => Number(a.response.headers.get('openai-processing-ms')));
    assert.ok(
      Math.max(...processingMs) > Math.min(...processingMs),
      'the last served waited longer than the first',
    );
    const m = await getMetrics(emulator.url);
    assert.equal(m.requests, 12);
    assert.equal(m.rateLimited + m.queueFull + m.errors, 0, 'nothing refused');
    assert.equal(m.inFlightMax, 2);
    assert.ok(m.queuedMax >= 1, `some waited: queuedMax ${m.queuedMax}`);
    assert.ok(
      m.series.every((p) => p.max <= 2 && p.inFlight <= 2),
      'no series point above parallel',
    );
    assert.equal(Math.max(...m.series.map((p) => p.queuedMax)), m.queuedMax);
    assert.deepEqual([m.inFlight, m.queued], [0, 0]);
  });

  void test('FIFO across both APIs: with parallel 1 queued requests are answered in arrival order', async () => {
    emulator.updateSettings({ parallel: 1 });
    emulator.reset();
    const held = blocker(emulator);
    await until(emulator, 'the blocker holds the slot', (m) => m.inFlight === 1);
    const openai = openAiClient(emulator.url);
    const ollama = ollamaClient(emulator.url);
    const answered: number[] = [];
    const waiting: Array<Promise<void>> = [];
    for (let i = 0; i < 4; i++) {
      const call =
        i % 2 === 0
          ? openai.chat.completions.create(chat(`ping ${i}`)).then((c) => c.choices[0]?.finish_reason)
          : ollama.chat(ollamaChat(`ping ${i}`)).then((r) => r.done_reason);
      waiting.push(
        call.then((reason) => {
          answered.push(i);
          assert.equal(reason, 'stop');
        }),
      );
      await until(emulator, `request ${i} is queued`, (m) => m.queued === i + 1);
    }
    const m = emulator.metrics();
    assert.deepEqual([m.inFlight, m.queued, m.queuedMax], [1, 4, 4]);
    await held.stop();
    await Promise.all(waiting);
    assert.deepEqual(answered, [0, 1, 2, 3]);
    const end = await getMetrics(emulator.url);
    assert.equal(end.inFlightMax, 1);
    assert.equal(end.queueFull, 0);
  });

  void test("a queued request's wait shows in its durations, as Ollama reports it (total beyond load, prompt and eval)", async () => {
    emulator.updateSettings({ parallel: 1 });
    emulator.reset();
    const held = blocker(emulator);
    await until(emulator, 'the blocker holds the slot', (m) => m.inFlight === 1);
    const queued = ollamaClient(emulator.url).chat(ollamaChat('ping queued'));
    await until(emulator, 'the request is queued', (m) => m.queued === 1);
    await new Promise((r) => setTimeout(r, 300));
    await held.stop();
    const waited = queuedMs(await queued);
    assert.ok(waited !== undefined && waited >= 250, `waited ${waited} ms`);
    // Alone, it waits for nothing.
    const alone = queuedMs(await ollamaClient(emulator.url).chat(ollamaChat('ping alone')));
    assert.ok(alone !== undefined && alone < 50, `alone waited ${alone} ms`);
  });

  void test('6 staggered at parallel 2: 2 served, 4 queued (queuedMax 4), the 6th answered after the 1st', async () => {
    emulator.updateSettings({ parallel: 2 });
    emulator.reset();
    const blockers = [blocker(emulator), blocker(emulator)];
    await until(emulator, 'both slots are held', (m) => m.inFlight === 2);
    const client = openAiClient(emulator.url);
    const answered: number[] = [];
    const waiting: Array<Promise<unknown>> = [];
    for (let i = 0; i < 4; i++) {
      waiting.push(client.chat.completions.create(chat(`ping ${i}`)).then(() => answered.push(i)));
      await until(emulator, `request ${i} is queued`, (m) => m.queued === i + 1);
    }
    assert.equal(emulator.metrics().queuedMax, 4);
    assert.equal(emulator.metrics().inFlightMax, 2);
    for (const b of blockers) await b.stop();
    await Promise.all(waiting);
    assert.equal(answered.length, 4);
    assert.ok(answered.indexOf(3) > answered.indexOf(0), `answer order ${answered.join(',')}`);
    assert.equal(emulator.metrics().inFlightMax, 2);
  });

  void test('a full queue answers 503 without Retry-After in both APIs; a client that leaves frees its place', async () => {
    emulator.updateSettings({ parallel: 1, maxQueue: 1 });
    emulator.reset();
    const held = blocker(emulator);
    await until(emulator, 'the blocker holds the slot', (m) => m.inFlight === 1);
    const queued = blocker(emulator);
    await until(emulator, 'one request waits', (m) => m.queued === 1);

    const refused = await openAiClient(emulator.url)
      .chat.completions.create(chat())
      .then(
        () => undefined,
        (err: unknown) => err,
      );
    assert.ok(refused instanceof APIError, String(refused));
    assert.equal(refused.status, 503);
    assert.equal(refused.headers?.get('retry-after'), null, 'no Retry-After');
    assert.equal(refused.headers?.get('retry-after-ms'), null);
    assert.match(refused.message, /server busy/);
    assert.equal((refused.error as { type?: string }).type, 'api_error', "Ollama's OpenAI-compatible error");

    const raw = await postJson(`${emulator.url}/api/chat`, ollamaChat());
    assert.equal(raw.status, 503);
    assert.equal(raw.headers.get('retry-after'), null, 'no Retry-After');
    assert.deepEqual(raw.body, { error: OLLAMA_BUSY_MESSAGE });
    await assert.rejects(
      ollamaClient(emulator.url).embed({ model: 'nomic-embed-text', input: 'x' }),
      (err: { status_code?: number; error?: string }) =>
        err.status_code === 503 && err.error === OLLAMA_BUSY_MESSAGE,
    );

    await queued.stop();
    await until(emulator, 'the queue place is free', (m) => m.queued === 0);
    const next = blocker(emulator);
    await until(emulator, 'the next request waits instead of being refused', (m) => m.queued === 1);
    const m = emulator.metrics();
    assert.equal(m.queueFull, 3);
    assert.equal(m.byEndpoint['/api/embed']?.queueFull, 1);
    await next.stop();
    await held.stop();
  });

  void test('embeddings take a slot too (prefill only)', async () => {
    emulator.updateSettings({ parallel: 1 });
    emulator.reset();
    const held = blocker(emulator);
    await until(emulator, 'the blocker holds the slot', (m) => m.inFlight === 1);
    const embedded = openAiClient(emulator.url).embeddings.create({
      model: 'text-embedding-3-small',
      input: ['GRAND TOTAL', 'VISA'],
    });
    await until(emulator, 'the embeddings request waits for the slot', (m) => m.queued === 1);
    await held.stop();
    const e = await embedded;
    assert.equal(e.data.length, 2);
    assert.equal(emulator.metrics().inFlightMax, 1);
  });

  void test('a model load answers 503 without Retry-After until it ends, then 200', async () => {
    emulator.updateSettings({ loadingForMs: 60_000 });
    emulator.reset();
    const config = (await (await fetch(`${emulator.url}/_emulator/config`)).json()) as {
      loadingForMs: number;
    };
    assert.ok(config.loadingForMs > 0 && config.loadingForMs <= 60_000, `ms left: ${config.loadingForMs}`);

    const refused = await openAiClient(emulator.url)
      .chat.completions.create(chat())
      .then(
        () => undefined,
        (err: unknown) => err,
      );
    assert.ok(refused instanceof APIError && refused.status === 503, String(refused));
    assert.equal(refused.headers?.get('retry-after'), null);
    const raw = await postJson(`${emulator.url}/api/chat`, ollamaChat());
    assert.equal(raw.status, 503);
    assert.equal(raw.headers.get('retry-after'), null);
    assert.deepEqual(raw.body, { error: OLLAMA_BUSY_MESSAGE });

    // A short reload through the HTTP control route, then wait for it to end.
    const put = await fetch(`${emulator.url}/_emulator/config`, {
      method: 'PUT',
      body: JSON.stringify({ loadingForMs: 30 }),
    });
    assert.equal(put.status, 200);
    await until(emulator, 'the load is over', () => emulator.settings.loadingForMs === 0);
    const answer = await ollamaClient(emulator.url).chat(ollamaChat());
    assert.equal(answer.done_reason, 'stop');
    await openAiClient(emulator.url).chat.completions.create(chat());
    const m = await getMetrics(emulator.url);
    assert.equal(m.modelLoading, 2);
    assert.equal(m.requests, 4);
  });

  void test('settings: a bad queueing value is a 400 naming the field, and nothing changes', async () => {
    const res = await fetch(`${emulator.url}/_emulator/config`, {
      method: 'PUT',
      body: JSON.stringify({ parallel: 0, providerModel: 'lazy', maxQueue: -1 }),
    });
    assert.equal(res.status, 400);
    const body = (await res.json()) as { error: { message: string; param: string } };
    for (const field of ['parallel', 'providerModel', 'maxQueue']) {
      assert.match(body.error.message, new RegExp(field));
      assert.ok(body.error.param.split(',').includes(field), `param names ${field}`);
    }
    assert.equal(emulator.settings.parallel, 2);
    assert.equal(emulator.settings.providerModel, 'queueing');
  });
});
