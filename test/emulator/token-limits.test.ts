// Output-token limits through the real SDKs: a longer answer is cut to the limit and says "length".
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { BadRequestError, toFile } from 'openai';
import { answerJsonSchema } from '../../src/domain/llm-tasks';
import { startEmulator, type EmulatorHandle } from '../../dev/emulator/server';
import { countTextTokens } from '../../dev/emulator/tokens';
import { getMetrics, ollamaClient, openAiClient, reviewPrompt, writeTruthFile } from './helpers';

const LIMIT = 5;
const schema = answerJsonSchema('label_review');
const openAiReview = {
  model: 'gpt-4o-mini',
  messages: [{ role: 'user' as const, content: reviewPrompt() }],
  response_format: {
    type: 'json_schema' as const,
    json_schema: { name: 'label_review', schema, strict: true },
  },
};
const ollamaReview = {
  model: 'llama3.1:8b',
  messages: [{ role: 'user', content: reviewPrompt() }],
  format: schema,
  stream: false as const,
};

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

void describe('output-token limits', () => {
  let emulator: EmulatorHandle;
  before(async () => {
    emulator = await startEmulator({
      port: 0,
      latencyMs: 0,
      jitterMs: 0,
      truthFile: writeTruthFile(),
      batchCompleteAfterS: 0,
    });
  });
  after(() => emulator.close());

  void test('OpenAI max_tokens and max_completion_tokens cut the answer: finish_reason length, usage = the limit', async () => {
    emulator.reset();
    const client = openAiClient(emulator.url);
    const full = await client.chat.completions.create(openAiReview);
    const whole = full.choices[0]?.message.content ?? '';
    assert.equal(full.choices[0]?.finish_reason, 'stop');
    assert.ok(isJson(whole) && (full.usage?.completion_tokens ?? 0) > LIMIT);

    for (const limit of [{ max_tokens: LIMIT }, { max_completion_tokens: LIMIT }]) {
      const cut = await client.chat.completions.create({ ...openAiReview, ...limit });
      const content = cut.choices[0]?.message.content ?? '';
      assert.equal(cut.choices[0]?.finish_reason, 'length', JSON.stringify(limit));
      assert.equal(cut.usage?.completion_tokens, LIMIT);
      assert.equal(cut.usage?.total_tokens, (cut.usage?.prompt_tokens ?? 0) + LIMIT);
      assert.ok(whole.startsWith(content) && content.length > 0, `a prefix of the whole answer: ${content}`);
      assert.ok(countTextTokens(content) <= LIMIT);
      assert.equal(isJson(content), false, 'the cut answer is not valid JSON');
    }

    const roomy = await client.chat.completions.create({ ...openAiReview, max_tokens: 100_000 });
    assert.equal(roomy.choices[0]?.finish_reason, 'stop');
    assert.equal(roomy.choices[0]?.message.content, whole);
    const m = await getMetrics(emulator.url);
    assert.equal(m.truncated, 2);
  });

  void test('a streamed completion ends with finish_reason length', async () => {
    const stream = await openAiClient(emulator.url).chat.completions.create({
      ...openAiReview,
      max_tokens: LIMIT,
      stream: true,
      stream_options: { include_usage: true },
    });
    const reasons: string[] = [];
    let completionTokens: number | undefined;
    for await (const chunk of stream) {
      for (const choice of chunk.choices) if (choice.finish_reason) reasons.push(choice.finish_reason);
      if (chunk.usage) completionTokens = chunk.usage.completion_tokens;
    }
    assert.deepEqual(reasons, ['length']);
    assert.equal(completionTokens, LIMIT);
  });

  void test('Ollama options.num_predict cuts the answer: done_reason length, eval_count = the limit', async () => {
    const ollama = ollamaClient(emulator.url);
    const full = await ollama.chat(ollamaReview);
    assert.equal(full.done_reason, 'stop');
    assert.ok(full.eval_count > LIMIT);
    const cut = await ollama.chat({ ...ollamaReview, options: { num_predict: LIMIT } });
    assert.equal(cut.done_reason, 'length');
    assert.equal(cut.eval_count, LIMIT);
    assert.ok(full.message.content.startsWith(cut.message.content));
    assert.equal(isJson(cut.message.content), false);
    const unlimited = await ollama.chat({ ...ollamaReview, options: { num_predict: -1 } });
    assert.equal(unlimited.done_reason, 'stop', 'num_predict -1 means no limit, as in Ollama');
    assert.equal(unlimited.message.content, full.message.content);
  });

  void test('a bad limit is a 400 naming the parameter', async () => {
    const err = await openAiClient(emulator.url)
      .chat.completions.create({ ...openAiReview, max_tokens: 0 })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    assert.ok(err instanceof BadRequestError, String(err));
    assert.equal(err.param, 'max_tokens');
    assert.equal(err.code, 'integer_below_min_value');
  });

  void test('batch chat lines honour max_tokens too', async () => {
    const client = openAiClient(emulator.url);
    const lines = [
      {
        custom_id: 'cut',
        method: 'POST',
        url: '/v1/chat/completions',
        body: { ...openAiReview, max_tokens: 3 },
      },
      { custom_id: 'whole', method: 'POST', url: '/v1/chat/completions', body: openAiReview },
    ];
    const file = await client.files.create({
      file: await toFile(Buffer.from(lines.map((l) => JSON.stringify(l)).join('\n')), 'in.jsonl'),
      purpose: 'batch',
    });
    const batch = await client.batches.create({
      input_file_id: file.id,
      endpoint: '/v1/chat/completions',
      completion_window: '24h',
    });
    assert.equal(batch.status, 'completed');
    const text = await (await client.files.content(batch.output_file_id ?? '')).text();
    const byId = new Map(
      text
        .split('\n')
        .filter(Boolean)
        .map((l) => {
          const line = JSON.parse(l) as {
            custom_id: string;
            response: {
              body: { choices: Array<{ finish_reason: string }>; usage: { completion_tokens: number } };
            };
          };
          return [line.custom_id, line.response.body] as const;
        }),
    );
    assert.equal(byId.get('cut')?.choices[0]?.finish_reason, 'length');
    assert.equal(byId.get('cut')?.usage.completion_tokens, 3);
    assert.equal(byId.get('whole')?.choices[0]?.finish_reason, 'stop');
  });
});
