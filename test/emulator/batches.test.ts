// The OpenAI Files + Batch API through the real openai SDK: every status path of a batch.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type OpenAI from 'openai';
import { toFile } from 'openai';
import { answerJsonSchema, answerSchemas } from '../../src/domain/llm-tasks';
import { embedText } from '../../dev/emulator/embeddings';
import { startEmulator, type EmulatorHandle } from '../../dev/emulator/server';
import { REVIEW_ITEMS, openAiClient, reviewPrompt, writeTruthFile } from './helpers';

type Batch = OpenAI.Batches.Batch;
const FINAL = new Set(['completed', 'failed', 'expired', 'cancelled']);
const ORDER = [
  'validating',
  'in_progress',
  'finalizing',
  'cancelling',
  'completed',
  'failed',
  'expired',
  'cancelled',
];

function chatLine(customId: string, prompt = reviewPrompt()) {
  return {
    custom_id: customId,
    method: 'POST',
    url: '/v1/chat/completions',
    body: {
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: prompt }],
      response_format: {
        type: 'json_schema',
        json_schema: { name: 'label_review', schema: answerJsonSchema('label_review'), strict: true },
      },
    },
  };
}

function embeddingLine(customId: string, input: string) {
  return {
    custom_id: customId,
    method: 'POST',
    url: '/v1/embeddings',
    body: { model: 'text-embedding-3-small', input, encoding_format: 'float' },
  };
}

async function upload(client: OpenAI, lines: unknown[] | string): Promise<string> {
  const text = typeof lines === 'string' ? lines : lines.map((l) => JSON.stringify(l)).join('\n') + '\n';
  const file = await client.files.create({
    file: await toFile(Buffer.from(text), 'input.jsonl'),
    purpose: 'batch',
  });
  assert.equal(file.purpose, 'batch');
  assert.equal(file.bytes, Buffer.byteLength(text));
  return file.id;
}

/** Polls until the batch is final; returns every status seen, in order. */
async function pollToEnd(client: OpenAI, id: string): Promise<{ batch: Batch; seen: string[] }> {
  const seen: string[] = [];
  for (;;) {
    const batch = await client.batches.retrieve(id);
    if (seen.at(-1) !== batch.status) seen.push(batch.status);
    if (FINAL.has(batch.status)) return { batch, seen };
    await new Promise((r) => setTimeout(r, 40));
  }
}

function assertMonotonic(seen: string[]): void {
  const idx = seen.map((s) => ORDER.indexOf(s));
  assert.ok(
    idx.every((i) => i >= 0),
    `known statuses: ${seen.join(' > ')}`,
  );
  assert.deepEqual(
    idx,
    [...idx].sort((a, b) => a - b),
    `statuses move forward: ${seen.join(' > ')}`,
  );
}

/** A line of a batch output or error file. */
interface OutputLine {
  id: string;
  custom_id: string;
  response: {
    status_code: number;
    request_id: string;
    body: { choices?: Array<{ message: { content: string } }>; data?: Array<{ embedding: number[] }> };
  } | null;
  error: { code: string; message: string } | null;
}

async function jsonl(client: OpenAI, fileId: string | null | undefined): Promise<OutputLine[]> {
  if (!fileId) return [];
  const text = await (await client.files.content(fileId)).text();
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as OutputLine);
}

void describe('batches', () => {
  let emulator: EmulatorHandle;
  let client: OpenAI;
  before(async () => {
    emulator = await startEmulator({
      port: 0,
      batchCompleteAfterS: 0.5,
      truthFile: writeTruthFile(),
      seed: 3,
    });
    client = openAiClient(emulator.url);
  });
  after(() => emulator.close());

  void test('completed: validating -> in_progress -> finalizing -> completed; outputs joined by custom_id', async () => {
    const lines = Array.from({ length: 8 }, (_, i) => chatLine(`req-${i}`));
    const badBody = {
      custom_id: 'bad-body',
      method: 'POST',
      url: '/v1/chat/completions',
      body: { model: 'gpt-4o-mini' },
    };
    const created = await client.batches.create({
      input_file_id: await upload(client, [...lines, badBody]),
      endpoint: '/v1/chat/completions',
      completion_window: '24h',
      metadata: { run: 't1' },
    });
    assert.equal(created.status, 'validating');
    assert.equal(created.object, 'batch');
    assert.deepEqual(created.metadata, { run: 't1' });
    const { batch, seen } = await pollToEnd(client, created.id);
    assertMonotonic(seen);
    assert.equal(batch.status, 'completed');
    assert.deepEqual(batch.request_counts, { total: 9, completed: 8, failed: 1 });
    assert.ok(batch.completed_at && batch.in_progress_at && batch.finalizing_at);
    assert.ok((batch.usage?.input_tokens ?? 0) > 0 && (batch.usage?.output_tokens ?? 0) > 0);

    const out = await jsonl(client, batch.output_file_id);
    assert.deepEqual(out.map((o) => o.custom_id).sort(), lines.map((l) => l.custom_id).sort());
    const expected = REVIEW_ITEMS.map((i) => (i.truth === i.label ? 'VALID' : 'INVALID'));
    for (const o of out) {
      assert.equal(o.error, null);
      assert.equal(o.response?.status_code, 200);
      assert.match(o.response?.request_id ?? '', /^req_/);
      const answer = answerSchemas.label_review.parse(
        JSON.parse(o.response?.body.choices?.[0]?.message.content ?? ''),
      );
      assert.deepEqual(
        answer.reviews.map((r) => r.decision),
        expected,
      );
    }
    const errors = await jsonl(client, batch.error_file_id);
    assert.equal(errors.length, 1);
    assert.equal(errors[0]?.custom_id, 'bad-body');
    assert.equal(errors[0]?.response?.status_code, 400);

    // Output order is a seeded shuffle, not the input order (fixed for seed 3).
    assert.notDeepEqual(
      out.map((o) => o.custom_id),
      lines.map((l) => l.custom_id),
    );
  });

  void test('completed embeddings batch: vectors as /v1/embeddings would answer', async () => {
    const texts = ['GRAND TOTAL', 'banana', 'VISA'];
    const created = await client.batches.create({
      input_file_id: await upload(
        client,
        texts.map((t, i) => embeddingLine(`e${i}`, t)),
      ),
      endpoint: '/v1/embeddings',
      completion_window: '24h',
    });
    const { batch } = await pollToEnd(client, created.id);
    assert.equal(batch.status, 'completed');
    const out = await jsonl(client, batch.output_file_id);
    assert.equal(out.length, 3);
    for (const o of out) {
      const text = texts[Number(String(o.custom_id).slice(1))] ?? '';
      assert.deepEqual(
        o.response?.body.data?.[0]?.embedding,
        Array.from(embedText(text, emulator.settings.embeddingDim)),
      );
    }
    assert.equal(batch.error_file_id, null);
  });

  void test('failed: an input file with bad lines fails validation with line errors and no output', async () => {
    const text = [
      JSON.stringify(chatLine('ok-1')),
      '{not json',
      JSON.stringify({ ...chatLine('x'), url: '/v1/embeddings' }),
    ].join('\n');
    const created = await client.batches.create({
      input_file_id: await upload(client, text),
      endpoint: '/v1/chat/completions',
      completion_window: '24h',
    });
    const { batch, seen } = await pollToEnd(client, created.id);
    assertMonotonic(seen);
    assert.equal(batch.status, 'failed');
    assert.ok(batch.failed_at);
    assert.deepEqual(
      batch.errors?.data?.map((e) => [e.code, e.line]),
      [
        ['invalid_json_line', 2],
        ['mismatched_url', 3],
      ],
    );
    assert.equal(batch.output_file_id, null);
    assert.deepEqual(batch.request_counts, { total: 0, completed: 0, failed: 0 });
  });

  void test('create refuses an unknown input file and a wrong endpoint', async () => {
    await assert.rejects(
      client.batches.create({
        input_file_id: 'file-nope',
        endpoint: '/v1/chat/completions',
        completion_window: '24h',
      }),
      (err: { status?: number }) => err.status === 404,
    );
    const fileId = await upload(client, [chatLine('a')]);
    await assert.rejects(
      client.batches.create({ input_file_id: fileId, endpoint: '/v1/completions', completion_window: '24h' }),
      (err: { status?: number; error?: { param?: string } }) =>
        err.status === 400 && err.error?.param === 'endpoint',
    );
  });

  void test('expired: keeps batchPartialRate of the outputs, the rest are batch_expired errors', async () => {
    emulator.updateSettings({ batchExpireRate: 1, batchPartialRate: 0.5 });
    const lines = Array.from({ length: 10 }, (_, i) => embeddingLine(`x${i}`, `word ${i}`));
    const created = await client.batches.create({
      input_file_id: await upload(client, lines),
      endpoint: '/v1/embeddings',
      completion_window: '24h',
    });
    emulator.updateSettings({ batchExpireRate: 0 });
    const { batch, seen } = await pollToEnd(client, created.id);
    assertMonotonic(seen);
    assert.equal(batch.status, 'expired');
    assert.ok(batch.expired_at);
    assert.deepEqual(batch.request_counts, { total: 10, completed: 5, failed: 5 });
    const out = await jsonl(client, batch.output_file_id);
    const errors = await jsonl(client, batch.error_file_id);
    assert.equal(out.length, 5);
    assert.equal(errors.length, 5);
    for (const e of errors) {
      assert.equal(e.response, null);
      assert.equal(e.error?.code, 'batch_expired');
    }
    assert.deepEqual(
      [...out, ...errors].map((o) => o.custom_id).sort(),
      lines.map((l) => l.custom_id).sort(),
    );
  });

  void test('cancel: cancelling -> cancelled; every request is either output or a batch_cancelled error', async () => {
    emulator.updateSettings({ batchCompleteAfterS: 2 });
    const lines = Array.from({ length: 6 }, (_, i) => embeddingLine(`c${i}`, `text ${i}`));
    const created = await client.batches.create({
      input_file_id: await upload(client, lines),
      endpoint: '/v1/embeddings',
      completion_window: '24h',
    });
    emulator.updateSettings({ batchCompleteAfterS: 0.5 });
    const cancelling = await client.batches.cancel(created.id);
    assert.equal(cancelling.status, 'cancelling');
    assert.ok(cancelling.cancelling_at);
    const { batch, seen } = await pollToEnd(client, created.id);
    assert.deepEqual(seen.at(-1), 'cancelled');
    assertMonotonic(seen);
    assert.ok(batch.cancelled_at);
    assert.equal(batch.completed_at, null);
    const out = await jsonl(client, batch.output_file_id);
    const errors = await jsonl(client, batch.error_file_id);
    assert.equal(batch.request_counts?.total, 6);
    assert.equal(batch.request_counts?.completed, out.length);
    assert.equal(out.length + errors.length, 6);
    assert.ok(errors.every((e) => e.error?.code === 'batch_cancelled'));
    // Cancelling again is harmless; cancelling a completed batch is a 409.
    assert.equal((await client.batches.cancel(created.id)).status, 'cancelled');
  });

  void test('a completed batch cannot be cancelled', async () => {
    const created = await client.batches.create({
      input_file_id: await upload(client, [embeddingLine('d0', 'x')]),
      endpoint: '/v1/embeddings',
      completion_window: '24h',
    });
    await pollToEnd(client, created.id);
    await assert.rejects(client.batches.cancel(created.id), (err: { status?: number }) => err.status === 409);
  });

  void test('list pages newest first with after/limit; the SDK iterates every page', async () => {
    const ids: string[] = [];
    const fileId = await upload(client, [embeddingLine('l0', 'x')]);
    for (let i = 0; i < 3; i++) {
      ids.push(
        (
          await client.batches.create({
            input_file_id: fileId,
            endpoint: '/v1/embeddings',
            completion_window: '24h',
          })
        ).id,
      );
    }
    const page = await client.batches.list({ limit: 2 });
    assert.deepEqual(
      page.data.map((b) => b.id),
      [ids[2], ids[1]],
    );
    assert.equal(page.has_more, true);
    const all: string[] = [];
    for await (const b of client.batches.list({ limit: 2 })) all.push(b.id);
    assert.equal(new Set(all).size, all.length, 'no batch listed twice');
    assert.deepEqual(all.slice(0, 3), [ids[2], ids[1], ids[0]]);
    const file = await client.files.retrieve(fileId);
    assert.equal(file.id, fileId);
  });
});
