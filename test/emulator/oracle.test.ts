// The oracle (pure): correct answers from the truth, seeded mistakes, generic answers valid for any schema.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  TASK_KINDS,
  answerJsonSchema,
  answerSchemas,
  emptyTruth,
  renderEnvelope,
  type LabelOutlierAnswer,
  type LabelReviewAnswer,
  type PlaceEnrichmentAnswer,
  type TaskKind,
  type TestQualityAnswer,
  type Truth,
} from '../../src/domain/llm-tasks';
import { findSchemaViolation, generateInstance, type JsonSchema } from '../../dev/emulator/json-schema';
import { answerPrompt, isAnsweredCorrectly, malformAnswer } from '../../dev/emulator/oracle';
import { SeededRandom } from '../../dev/emulator/random';
import { REVIEW_ITEMS, reviewTruth } from './helpers';

const truth = reviewTruth();
const prompt = (task: TaskKind, items: Array<Record<string, unknown> & { id: string }>) =>
  `Task.\n${renderEnvelope({ task, items })}`;
const reviewItems = REVIEW_ITEMS.map(({ id, text, label }) => ({ id, text, label }));

function ask<T>(
  task: TaskKind,
  items: Array<Record<string, unknown> & { id: string }>,
  accuracy: number,
  t: Truth | undefined = truth,
  seed = 1,
): T {
  const answer = answerPrompt({
    prompt: prompt(task, items),
    truth: t,
    accuracy,
    seed,
    jsonSchema: answerJsonSchema(task),
  });
  assert.equal(answer.source, 'truth');
  return answerSchemas[task].parse(JSON.parse(answer.content)) as T;
}

void describe('oracle', () => {
  void test('label_review at accuracy 1: VALID when the truth agrees, else INVALID with the true label', () => {
    const a = ask<LabelReviewAnswer>('label_review', reviewItems, 1);
    assert.deepEqual(
      a.reviews.map((r) => [r.id, r.decision, r.suggestedLabel]),
      REVIEW_ITEMS.map((i) => [
        i.id,
        i.truth === i.label ? 'VALID' : 'INVALID',
        i.truth === i.label ? null : i.truth,
      ]),
    );
  });

  void test('label_review at accuracy 0: every decision flipped, suggested label never the item label', () => {
    const a = ask<LabelReviewAnswer>('label_review', reviewItems, 0);
    for (const [i, r] of a.reviews.entries()) {
      const item = REVIEW_ITEMS[i];
      assert.ok(item);
      if (item.truth === item.label) {
        assert.equal(r.decision, 'INVALID');
        assert.ok(r.suggestedLabel !== null && r.suggestedLabel !== item.label);
      } else {
        assert.deepEqual([r.decision, r.suggestedLabel], ['VALID', null]);
      }
    }
  });

  void test('items without truth are NEEDS_REVIEW / not outliers whatever the accuracy', () => {
    const unknown = [{ id: 'zz', text: 'HELLO', label: 'WEBSITE' }];
    for (const t of [truth, undefined]) {
      assert.deepEqual(
        ask<LabelReviewAnswer>('label_review', unknown, 0, t).reviews[0]?.decision,
        'NEEDS_REVIEW',
      );
      assert.deepEqual(ask<LabelOutlierAnswer>('label_outlier', unknown, 0, t).decisions[0]?.outlier, false);
    }
  });

  void test('label_outlier: outlier iff the truth differs; flipped at accuracy 0', () => {
    const right = ask<LabelOutlierAnswer>('label_outlier', reviewItems, 1);
    const wrong = ask<LabelOutlierAnswer>('label_outlier', reviewItems, 0);
    for (const [i, item] of REVIEW_ITEMS.entries()) {
      const outlier = item.truth !== item.label;
      assert.equal(right.decisions[i]?.outlier, outlier);
      assert.equal(right.decisions[i]?.suggestedLabel, outlier ? item.truth : null);
      assert.equal(wrong.decisions[i]?.outlier, !outlier);
    }
  });

  void test('place_enrichment and test_quality: the truth, or its boolean flipped', () => {
    const place = ask<PlaceEnrichmentAnswer>('place_enrichment', [{ id: 'p1', name: 'Gym' }], 1);
    assert.deepEqual(place, { id: 'p1', ...truth.places.p1 });
    assert.equal(ask<PlaceEnrichmentAnswer>('place_enrichment', [{ id: 'p1' }], 0).hasWomenOnlyHours, false);
    const fn = ask<TestQualityAnswer>('test_quality', [{ id: 'f1' }], 1);
    assert.deepEqual(fn, { id: 'f1', ...truth.functions.f1 });
    assert.deepEqual(ask<TestQualityAnswer>('test_quality', [{ id: 'f1' }], 0), {
      id: 'f1',
      hasIssue: false,
      issues: [],
    });
  });

  void test('mistakes are decided per (seed, task, item): same seed same answers, about 1-accuracy wrong', () => {
    const t = emptyTruth();
    const items = Array.from({ length: 1000 }, (_, i) => ({ id: `w${i}`, text: 'x', label: 'TAX' }));
    for (const item of items) t.words[item.id] = { label: 'TAX' };
    const a = ask<LabelReviewAnswer>('label_review', items, 0.8, t, 5);
    assert.deepEqual(ask<LabelReviewAnswer>('label_review', items, 0.8, t, 5), a);
    const wrong = a.reviews.filter((r) => r.decision === 'INVALID').length;
    assert.ok(wrong > 150 && wrong < 250, `about 200 wrong, got ${wrong}`);
    assert.equal(wrong, items.filter((i) => !isAnsweredCorrectly(5, 'label_review', i.id, 0.8)).length);
    assert.notDeepEqual(ask<LabelReviewAnswer>('label_review', items, 0.8, t, 6), a);
  });

  void test('an answer that does not fit the requested schema is replaced by an instance of that schema', () => {
    const other: JsonSchema = {
      type: 'object',
      properties: { verdict: { type: 'string' } },
      required: ['verdict'],
      additionalProperties: false,
    };
    const answer = answerPrompt({
      prompt: prompt('label_review', reviewItems),
      truth,
      accuracy: 1,
      seed: 1,
      jsonSchema: other,
    });
    assert.equal(answer.source, 'generic');
    assert.equal(findSchemaViolation(other, JSON.parse(answer.content)), undefined);
  });

  void test('no envelope: deterministic text, or JSON in json mode', () => {
    const a = answerPrompt({ prompt: 'hello', truth, accuracy: 1, seed: 1 });
    assert.equal(a.source, 'generic');
    assert.equal(answerPrompt({ prompt: 'hello', truth, accuracy: 1, seed: 1 }).content, a.content);
    assert.notEqual(answerPrompt({ prompt: 'hello!', truth, accuracy: 1, seed: 1 }).content, a.content);
    assert.equal(
      typeof (
        JSON.parse(
          answerPrompt({ prompt: 'hello', truth, accuracy: 1, seed: 1, jsonMode: true }).content,
        ) as { answer: string }
      ).answer,
      'string',
    );
  });

  void test('malformed answers fail the task schema both ways (truncated, renamed field)', () => {
    for (const task of TASK_KINDS) {
      const items =
        task === 'label_review' || task === 'label_outlier'
          ? reviewItems
          : [{ id: task === 'place_enrichment' ? 'p1' : 'f1' }];
      const content = answerPrompt({ prompt: prompt(task, items), truth, accuracy: 1, seed: 1 }).content;
      for (const choice of [0.1, 0.9]) {
        const spoiled = malformAnswer(content, choice, answerJsonSchema(task));
        let ok = false;
        try {
          ok = answerSchemas[task].safeParse(JSON.parse(spoiled)).success;
        } catch {
          ok = false;
        }
        assert.equal(ok, false, `${task} choice ${choice}: ${spoiled.slice(0, 80)}`);
      }
    }
  });
});

void describe('JSON schema instances', () => {
  const schemas: Array<[string, JsonSchema]> = [
    ...TASK_KINDS.map((t) => [t, answerJsonSchema(t)] as [string, JsonSchema]),
    [
      'enum+const',
      { type: 'object', properties: { a: { enum: ['x', 'y'] }, b: { const: 3 } }, required: ['a', 'b'] },
    ],
    ['nullable', { type: ['string', 'null'], maxLength: 3 }],
    [
      'bounded numbers',
      {
        type: 'object',
        properties: {
          i: { type: 'integer', minimum: 5, maximum: 7 },
          n: { type: 'number', exclusiveMinimum: 0, maximum: 1 },
          m: { type: 'number', multipleOf: 0.25 },
        },
        required: ['i', 'n', 'm'],
      },
    ],
    [
      'arrays',
      { type: 'array', items: { type: 'string', minLength: 2 }, minItems: 2, maxItems: 2, uniqueItems: true },
    ],
    [
      'refs',
      {
        $defs: {
          node: {
            type: 'object',
            properties: {
              v: { type: 'boolean' },
              next: { anyOf: [{ $ref: '#/$defs/node' }, { type: 'null' }] },
            },
            required: ['v', 'next'],
          },
        },
        $ref: '#/$defs/node',
      },
    ],
    [
      'allOf',
      {
        allOf: [
          { type: 'object', properties: { a: { type: 'string' } }, required: ['a'] },
          { properties: { b: { type: 'integer' } }, required: ['b'] },
        ],
      },
    ],
    [
      'formats',
      {
        type: 'object',
        properties: {
          d: { type: 'string', format: 'date' },
          t: { type: 'string', format: 'date-time' },
          e: { type: 'string', format: 'email' },
        },
        required: ['d', 't', 'e'],
      },
    ],
  ];
  for (const [name, schema] of schemas) {
    void test(`generated instances of "${name}" validate, deterministically`, () => {
      for (let seed = 0; seed < 30; seed++) {
        const value = generateInstance(schema, new SeededRandom(seed));
        assert.equal(
          findSchemaViolation(schema, value),
          undefined,
          `${name} seed ${seed}: ${JSON.stringify(value)}`,
        );
        assert.deepEqual(generateInstance(schema, new SeededRandom(seed)), value);
      }
    });
  }

  void test('task answer instances also pass the zod answer schemas', () => {
    for (const task of TASK_KINDS) {
      const value = generateInstance(answerJsonSchema(task), new SeededRandom(1));
      assert.equal(answerSchemas[task].safeParse(value).success, true, `${task}: ${JSON.stringify(value)}`);
    }
  });

  void test('the checker rejects what the schema forbids', () => {
    const schema = answerJsonSchema('label_review');
    assert.match(
      findSchemaViolation(schema, {
        reviews: [{ id: 'a', decision: 'MAYBE', suggestedLabel: null, reason: '' }],
      }) ?? '',
      /decision/,
    );
    assert.match(findSchemaViolation(schema, { review: [] }) ?? '', /reviews/);
    assert.match(findSchemaViolation({ type: 'integer' }, 1.5) ?? '', /integer/);
  });

  const violations: Array<[string, JsonSchema, unknown, unknown]> = [
    ['minLength', { type: 'string', minLength: 3 }, 'ab', 'abc'],
    ['maxLength', { type: 'string', maxLength: 2 }, 'abc', 'ab'],
    ['pattern', { type: 'string', pattern: '^[0-9]+$' }, '12a', '12'],
    ['minimum', { type: 'number', minimum: 1 }, 0.5, 1],
    ['exclusiveMaximum', { type: 'number', exclusiveMaximum: 1 }, 1, 0.9],
    ['multipleOf', { type: 'number', multipleOf: 0.5 }, 0.3, 1.5],
    ['minItems', { type: 'array', minItems: 1 }, [], [1]],
    ['maxItems', { type: 'array', maxItems: 1 }, [1, 2], [1]],
    ['uniqueItems', { type: 'array', uniqueItems: true }, [1, 1], [1, 2]],
    ['required', { type: 'object', required: ['a'] }, {}, { a: 1 }],
    [
      'additionalProperties',
      { type: 'object', properties: { a: {} }, additionalProperties: false },
      { b: 1 },
      { a: 1 },
    ],
    ['enum', { enum: ['x'] }, 'y', 'x'],
    ['const', { const: 2 }, 3, 2],
    ['anyOf', { anyOf: [{ type: 'string' }, { type: 'null' }] }, 1, null],
    ['oneOf', { oneOf: [{ type: 'number' }, { type: 'integer' }] }, 1, 1.5],
    ['items', { type: 'array', items: { type: 'string' } }, ['a', 1], ['a', 'b']],
    ['$ref', { $defs: { s: { type: 'string' } }, $ref: '#/$defs/s' }, 1, 's'],
  ];
  for (const [keyword, schema, bad, good] of violations) {
    void test(`the checker enforces ${keyword}`, () => {
      assert.notEqual(findSchemaViolation(schema, bad), undefined, `${JSON.stringify(bad)} must fail`);
      assert.equal(findSchemaViolation(schema, good), undefined, `${JSON.stringify(good)} must pass`);
    });
  }
});
