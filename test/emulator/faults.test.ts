// Injected faults: 5xx errors, malformed answers and timeouts, at their configured rates, counted exactly.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { APIConnectionError, APIError } from 'openai';
import { answerJsonSchema, answerSchemas } from '../../src/domain/llm-tasks';
import { startEmulator, type EmulatorHandle } from '../../dev/emulator/server';
import { getMetrics, openAiClient, reviewPrompt, writeTruthFile } from './helpers';

const CALLS = 400;
const TOLERANCE = 0.07;
/** Requests sent at once: fast, and well under maxConcurrency so none is refused. */
const WAVE = 20;

async function inWaves<T>(n: number, call: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < n; i += WAVE)
    out.push(...(await Promise.all(Array.from({ length: Math.min(WAVE, n - i) }, (_, k) => call(i + k)))));
  return out;
}

void describe('faults', () => {
  let emulator: EmulatorHandle;
  before(async () => {
    emulator = await startEmulator({ port: 0, latencyMs: 0, jitterMs: 0, truthFile: writeTruthFile() });
  });
  after(() => emulator.close());

  void test(`errorRate 0.2 over ${CALLS} calls: 5xx share within ±${TOLERANCE}, each counted`, async () => {
    emulator.updateSettings({ errorRate: 0.2 });
    emulator.reset();
    const client = openAiClient(emulator.url);
    const statuses = await inWaves(CALLS, () =>
      client.chat.completions
        .create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'ping' }] })
        .then(
          () => 200,
          (err: unknown) => (err instanceof APIError ? (err.status ?? -1) : -1),
        ),
    );
    emulator.updateSettings({ errorRate: 0 });
    const errors = statuses.filter((s) => s >= 500);
    assert.ok(errors.every((s) => [500, 502, 503].includes(s)));
    assert.equal(statuses.filter((s) => s !== 200 && s < 500).length, 0, 'no other failure');
    const share = errors.length / CALLS;
    assert.ok(Math.abs(share - 0.2) <= TOLERANCE, `error share ${share}`);
    const m = await getMetrics(emulator.url);
    assert.equal(m.errors, errors.length);
    assert.equal(m.requests, CALLS);
  });

  void test(`malformedRate 0.3 over ${CALLS} calls: that share of 200 answers fails the schema, each counted`, async () => {
    emulator.updateSettings({ malformedRate: 0.3 });
    emulator.reset();
    const client = openAiClient(emulator.url);
    const schema = answerJsonSchema('label_review');
    const valid = await inWaves(CALLS, async () => {
      const completion = await client.chat.completions.create({
        model: 'gpt-4o-mini',
        messages: [{ role: 'user', content: reviewPrompt() }],
        response_format: { type: 'json_schema', json_schema: { name: 'label_review', schema, strict: true } },
      });
      try {
        return answerSchemas.label_review.safeParse(JSON.parse(completion.choices[0]?.message.content ?? ''))
          .success;
      } catch {
        return false;
      }
    });
    emulator.updateSettings({ malformedRate: 0 });
    const malformed = valid.filter((v) => !v).length;
    assert.ok(Math.abs(malformed / CALLS - 0.3) <= TOLERANCE, `malformed share ${malformed / CALLS}`);
    assert.equal(
      (await getMetrics(emulator.url)).malformed,
      malformed,
      'every malformed answer really fails its schema',
    );
  });

  void test('timeoutRate 1: the request hangs timeoutMs, then its socket is destroyed', async () => {
    emulator.updateSettings({ timeoutRate: 1, timeoutMs: 100 });
    emulator.reset();
    const err = await openAiClient(emulator.url)
      .chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'ping' }] })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    emulator.updateSettings({ timeoutRate: 0 });
    assert.ok(err instanceof APIConnectionError, `a connection error, got ${String(err)}`);
    const m = await getMetrics(emulator.url);
    assert.equal(m.timeouts, 1);
    assert.equal(m.inFlight, 0, 'the dead request left the in-flight count');
    assert.equal(m.inFlightMax, 1);
  });
});
