// Embeddings: the pure n-gram hashing, and both SDKs over HTTP (openai with its default base64 encoding).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { cosineSimilarity, embedText, embeddingToBase64 } from '../../dev/emulator/embeddings';
import { startEmulator, type EmulatorHandle } from '../../dev/emulator/server';
import { ollamaClient, openAiClient, postJson } from './helpers';

const norm = (v: ArrayLike<number>) => Math.sqrt(Array.from(v).reduce((s, x) => s + x * x, 0));

void describe('embedText (pure)', () => {
  void test('is deterministic and unit-norm for every dimension asked', () => {
    for (const dim of [1, 8, 256, 1536]) {
      const a = embedText('GRAND TOTAL', dim);
      assert.equal(a.length, dim);
      assert.deepEqual(embedText('GRAND TOTAL', dim), a);
      assert.ok(Math.abs(norm(a) - 1) < 1e-5, `norm 1 at dim ${dim}`);
    }
    assert.ok(Math.abs(norm(embedText('', 64)) - 1) < 1e-5, 'even the empty string gets a unit vector');
  });

  void test('similar strings are near, unrelated strings far', () => {
    const table: Array<[string, string, string]> = [
      ['GRAND TOTAL', 'GRAND TOTAL:', 'banana'],
      ['SUBTOTAL', 'SUB TOTAL', 'VISA 4412'],
      ['Whole Foods Market', 'WHOLE FOODS MKT', '2024-03-01'],
    ];
    for (const [a, near, far] of table) {
      const ea = embedText(a, 256);
      const simNear = cosineSimilarity(ea, embedText(near, 256));
      const simFar = cosineSimilarity(ea, embedText(far, 256));
      assert.ok(simNear > simFar + 0.3, `${a}: near ${simNear.toFixed(2)} vs far ${simFar.toFixed(2)}`);
    }
    assert.ok(cosineSimilarity(embedText('GRAND TOTAL', 256), embedText('GRAND TOTAL:', 256)) > 0.8);
    assert.ok(Math.abs(cosineSimilarity(embedText('GRAND TOTAL', 256), embedText('banana', 256))) < 0.3);
  });

  void test('base64 is little-endian float32 bytes', () => {
    const v = embedText('TAX', 16);
    const bytes = Buffer.from(embeddingToBase64(v), 'base64');
    assert.equal(bytes.length, 64);
    assert.equal(bytes.readFloatLE(4), v[1]);
  });
});

void describe('embeddings over HTTP', () => {
  let emulator: EmulatorHandle;
  before(async () => {
    emulator = await startEmulator({ port: 0, latencyMs: 0, jitterMs: 0, embeddingDim: 64 });
  });
  after(() => emulator.close());

  void test('openai SDK (default base64 encoding) decodes deterministic vectors with the right geometry', async () => {
    const client = openAiClient(emulator.url);
    const res = await client.embeddings.create({
      model: 'text-embedding-3-small',
      input: ['GRAND TOTAL', 'GRAND TOTAL:', 'banana'],
    });
    const [a, b, c] = res.data.map((d) => d.embedding);
    assert.ok(a && b && c);
    assert.equal(a.length, 64);
    assert.deepEqual(Array.from(a), Array.from(embedText('GRAND TOTAL', 64)));
    assert.ok(cosineSimilarity(a, b) > cosineSimilarity(a, c) + 0.3);
    assert.ok(res.usage.prompt_tokens > 0 && res.usage.total_tokens === res.usage.prompt_tokens);
    const again = await client.embeddings.create({ model: 'text-embedding-3-small', input: 'GRAND TOTAL' });
    assert.deepEqual(Array.from(again.data[0]?.embedding ?? []), Array.from(a));
  });

  void test('openai float encoding and `dimensions` are honoured', async () => {
    const res = await openAiClient(emulator.url).embeddings.create({
      model: 'text-embedding-3-small',
      input: 'GRAND TOTAL',
      encoding_format: 'float',
      dimensions: 32,
    });
    const v = res.data[0]?.embedding ?? [];
    assert.ok(Array.isArray(v));
    assert.equal(v.length, 32);
    assert.deepEqual(v, Array.from(embedText('GRAND TOTAL', 32)));
  });

  void test('ollama SDK embed returns the same vectors as the openai API', async () => {
    const res = await ollamaClient(emulator.url).embed({
      model: 'nomic-embed-text',
      input: ['GRAND TOTAL', 'GRAND TOTAL:', 'banana'],
    });
    assert.equal(res.embeddings.length, 3);
    const [a, b, c] = res.embeddings;
    assert.ok(a && b && c);
    assert.deepEqual(a, Array.from(embedText('GRAND TOTAL', 64)));
    assert.ok(cosineSimilarity(a, b) > cosineSimilarity(a, c) + 0.3);
    assert.ok((res as unknown as { prompt_eval_count: number }).prompt_eval_count > 0);
    const single = await ollamaClient(emulator.url).embed({ model: 'nomic-embed-text', input: 'banana' });
    assert.deepEqual(single.embeddings[0], c);
  });

  void test('raw HTTP: encoding_format base64 answers a base64 string of the float32 vector', async () => {
    const res = await postJson(`${emulator.url}/v1/embeddings`, {
      model: 'text-embedding-3-small',
      input: 'GRAND TOTAL',
      encoding_format: 'base64',
    });
    assert.equal(res.status, 200);
    const embedding = (res.body as { data: Array<{ embedding: unknown }> }).data[0]?.embedding;
    assert.equal(typeof embedding, 'string');
    const bytes = Buffer.from(embedding as string, 'base64');
    const decoded = Array.from({ length: bytes.length / 4 }, (_, i) => bytes.readFloatLE(i * 4));
    assert.deepEqual(decoded, Array.from(embedText('GRAND TOTAL', 64)));
  });

  void test('an empty input is a 400', async () => {
    const res = await postJson(`${emulator.url}/v1/embeddings`, {
      model: 'text-embedding-3-small',
      input: '',
    });
    assert.equal(res.status, 400);
    assert.equal((res.body as { error: { param: string } }).error.param, 'input');
  });
});
