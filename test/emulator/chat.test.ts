// Structured chat output through the real openai and ollama SDKs, answered by the oracle from a truth file.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  answerJsonSchema,
  answerSchemas,
  placeEnrichmentAnswerSchema,
  renderEnvelope,
  testQualityAnswerSchema,
  type LabelReviewAnswer,
} from '../../src/domain/llm-tasks';
import { findSchemaViolation } from '../../dev/emulator/json-schema';
import { startEmulator, type EmulatorHandle } from '../../dev/emulator/server';
import { REVIEW_ITEMS, ollamaClient, openAiClient, reviewPrompt, writeTruthFile } from './helpers';

const schema = answerJsonSchema('label_review');

async function openAiReview(url: string, prompt = reviewPrompt()): Promise<LabelReviewAnswer> {
  const completion = await openAiClient(url).chat.completions.create({
    model: 'gpt-4o-mini',
    messages: [
      { role: 'system', content: 'You review receipt labels.' },
      { role: 'user', content: prompt },
    ],
    response_format: { type: 'json_schema', json_schema: { name: 'label_review', schema, strict: true } },
  });
  const content = completion.choices[0]?.message.content ?? '';
  assert.equal(
    findSchemaViolation(schema, JSON.parse(content)),
    undefined,
    'answer fits the requested JSON schema',
  );
  return answerSchemas.label_review.parse(JSON.parse(content));
}

async function ollamaReview(url: string): Promise<LabelReviewAnswer> {
  const response = await ollamaClient(url).chat({
    model: 'llama3.1:8b',
    messages: [{ role: 'user', content: reviewPrompt() }],
    format: schema,
    stream: false,
  });
  assert.ok(response.prompt_eval_count > 0 && response.eval_count > 0, 'usage counts present');
  return answerSchemas.label_review.parse(JSON.parse(response.message.content));
}

function decisionsOf(answer: LabelReviewAnswer) {
  return answer.reviews.map((r) => [r.id, r.decision, r.suggestedLabel] as const);
}

const truthAnswers = REVIEW_ITEMS.map((i) =>
  i.truth === i.label ? ([i.id, 'VALID', null] as const) : ([i.id, 'INVALID', i.truth] as const),
);

void describe('structured chat output', () => {
  let emulator: EmulatorHandle;
  const truthFile = writeTruthFile();

  before(async () => {
    emulator = await startEmulator({ port: 0, latencyMs: 0, jitterMs: 0, truthFile, seed: 11 });
  });
  after(() => emulator.close());

  void test('accuracy 1 answers the truth through the openai SDK', async () => {
    emulator.updateSettings({ accuracy: 1 });
    const answer = await openAiReview(emulator.url);
    assert.deepEqual(decisionsOf(answer), truthAnswers);
  });

  void test('accuracy 1 answers the truth through the ollama SDK', async () => {
    emulator.updateSettings({ accuracy: 1 });
    assert.deepEqual(decisionsOf(await ollamaReview(emulator.url)), truthAnswers);
  });

  void test('accuracy 0 answers every known item wrongly (flipped decision, never the truth)', async () => {
    emulator.updateSettings({ accuracy: 0 });
    const answer = await openAiReview(emulator.url);
    assert.equal(answer.reviews.length, REVIEW_ITEMS.length);
    for (const [i, review] of answer.reviews.entries()) {
      const item = REVIEW_ITEMS[i];
      assert.ok(item);
      assert.equal(review.id, item.id);
      const truthValid = item.truth === item.label;
      assert.equal(review.decision, truthValid ? 'INVALID' : 'VALID', `${item.id} decision flipped`);
      if (truthValid) assert.notEqual(review.suggestedLabel, item.label);
      else assert.equal(review.suggestedLabel, null);
    }
    emulator.updateSettings({ accuracy: 1 });
  });

  void test('same seed gives the same answers at accuracy 0.5; another seed differs somewhere', async () => {
    const many = Array.from({ length: 40 }, (_, n) => ({
      id: `m${n}`,
      text: `W${n}`,
      label: 'WEBSITE' as const,
      truth: 'TAX' as const,
    }));
    const truth = {
      seed: 1,
      words: Object.fromEntries(many.map((m) => [m.id, { label: m.truth }])),
      places: {},
      functions: {},
    };
    emulator.updateSettings({ accuracy: 0.5, seed: 5, truthFile: writeTruthFile(truth) });
    const first = decisionsOf(await openAiReview(emulator.url, reviewPrompt(many)));
    const again = decisionsOf(await openAiReview(emulator.url, reviewPrompt(many)));
    assert.deepEqual(again, first);
    const wrong = first.filter(([, decision]) => decision === 'VALID').length;
    assert.ok(wrong > 5 && wrong < 35, `about half wrong at accuracy 0.5, got ${wrong}/40`);
    emulator.updateSettings({ seed: 6 });
    const other = decisionsOf(await openAiReview(emulator.url, reviewPrompt(many)));
    assert.notDeepEqual(other, first);
    emulator.updateSettings({ accuracy: 1, seed: 11, truthFile });
  });

  void test('single-item tasks answer the truth of places and test functions', async () => {
    const client = openAiClient(emulator.url);
    const ask = async (task: 'place_enrichment' | 'test_quality', id: string) => {
      const completion = await client.chat.completions.create({
        model: 'gpt-4o-mini',
        messages: [
          { role: 'user', content: `Do the ${task}.\n${renderEnvelope({ task, items: [{ id }] })}` },
        ],
        response_format: {
          type: 'json_schema',
          json_schema: { name: task, schema: answerJsonSchema(task), strict: true },
        },
      });
      return JSON.parse(completion.choices[0]?.message.content ?? '') as unknown;
    };
    const place = placeEnrichmentAnswerSchema.parse(await ask('place_enrichment', 'p1'));
    assert.deepEqual(place, {
      id: 'p1',
      description: 'A gym with a pool.',
      amenities: ['pool', 'sauna'],
      hasWomenOnlyHours: true,
      hoursFrench: 'Lun-Ven 6h-22h',
    });
    const quality = testQualityAnswerSchema.parse(await ask('test_quality', 'f1'));
    assert.deepEqual(quality, {
      id: 'f1',
      hasIssue: true,
      issues: [{ kind: 'SLEEP_IN_TEST', message: 'Uses sleep.' }],
    });
  });

  void test('json_object mode and format "json" answer the envelope as JSON', async () => {
    const completion = await openAiClient(emulator.url).chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: reviewPrompt() }],
      response_format: { type: 'json_object' },
    });
    assert.deepEqual(
      decisionsOf(answerSchemas.label_review.parse(JSON.parse(completion.choices[0]?.message.content ?? ''))),
      truthAnswers,
    );
    const response = await ollamaClient(emulator.url).chat({
      model: 'llama3.1:8b',
      messages: [{ role: 'user', content: reviewPrompt() }],
      format: 'json',
    });
    assert.deepEqual(
      decisionsOf(answerSchemas.label_review.parse(JSON.parse(response.message.content))),
      truthAnswers,
    );
  });

  void test('an unknown prompt with a schema gets a deterministic instance valid for that schema', async () => {
    const custom = {
      type: 'object',
      properties: {
        merchant: { type: 'string', minLength: 3 },
        total: { type: 'number', minimum: 0, maximum: 1000 },
        items: {
          type: 'array',
          minItems: 1,
          maxItems: 3,
          items: {
            type: 'object',
            properties: { qty: { type: 'integer', minimum: 1 } },
            required: ['qty'],
            additionalProperties: false,
          },
        },
        kind: { enum: ['cash', 'card'] },
        note: { anyOf: [{ type: 'string' }, { type: 'null' }] },
      },
      required: ['merchant', 'total', 'items', 'kind', 'note'],
      additionalProperties: false,
    };
    const ask = async () => {
      const completion = await openAiClient(emulator.url).chat.completions.create({
        model: 'gpt-4o-mini',
        messages: [{ role: 'user', content: 'Extract the receipt header from: ACME MARKET total 12.00' }],
        response_format: {
          type: 'json_schema',
          json_schema: { name: 'header', schema: custom, strict: true },
        },
      });
      return completion.choices[0]?.message.content ?? '';
    };
    const content = await ask();
    assert.equal(findSchemaViolation(custom, JSON.parse(content)), undefined, content);
    assert.equal(await ask(), content);
  });

  void test('a plain prompt gets short deterministic text; streaming answers work in both APIs', async () => {
    const client = openAiClient(emulator.url);
    const plain = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'Say hello.' }],
    });
    const text = plain.choices[0]?.message.content ?? '';
    assert.match(text, /^Emulated answer [0-9a-f]{8}: /);
    const stream = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'Say hello.' }],
      stream: true,
    });
    let streamed = '';
    for await (const chunk of stream) streamed += chunk.choices[0]?.delta.content ?? '';
    assert.equal(streamed, text);
    const ollamaStream = await ollamaClient(emulator.url).chat({
      model: 'llama3.1:8b',
      messages: [{ role: 'user', content: 'Say hello.' }],
      stream: true,
    });
    let ollamaText = '';
    for await (const part of ollamaStream) ollamaText += part.message.content;
    assert.equal(ollamaText, text);
  });

  void test('ollama list (GET /api/tags) names the default chat and embedding models', async () => {
    const { models } = await ollamaClient(emulator.url).list();
    assert.deepEqual(
      models.map((m) => m.name),
      ['llama3.1:8b', 'nomic-embed-text:latest'],
    );
  });

  void test('bad requests get 400 in each API’s error shape', async () => {
    await assert.rejects(
      openAiClient(emulator.url).chat.completions.create({ model: 'gpt-4o-mini', messages: [] }),
      (err: { status?: number; error?: { type?: string } }) =>
        err.status === 400 && err.error?.type === 'invalid_request_error',
    );
    await assert.rejects(
      ollamaClient(emulator.url).chat({ model: '', messages: [{ role: 'user', content: 'x' }] }),
      (err: { status_code?: number; message?: string }) =>
        err.status_code === 400 && /model is required/.test(err.message ?? ''),
    );
  });
});
