// The places generator (seed 004's gyms), their validation and the enrichment prompts.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseEnvelope } from '../../src/domain/llm-tasks';
import {
  SEED_ENRICHMENT_TASKS,
  placeEnrichmentMessages,
  placeEnrichmentSchemaFor,
  seedEnrichmentMessages,
} from '../../src/domain/place-prompts';
import { MAX_AMENITIES, countSentences, validatePlace } from '../../src/domain/places';
import { AMENITIES, generatePlaces } from '../../dev/generator/places';

describe('places generator', () => {
  const ds = generatePlaces({ count: 60, seed: 4 });

  test('same seed, same places; place i depends only on (seed, i)', () => {
    assert.deepEqual(generatePlaces({ count: 60, seed: 4 }), ds);
    assert.deepEqual(generatePlaces({ count: 10, seed: 4 }).places, ds.places.slice(0, 10));
    assert.notDeepEqual(generatePlaces({ count: 10, seed: 5 }).places, ds.places.slice(0, 10));
  });

  test('every place is valid: name, English hours, several reviews with text and ratings', () => {
    assert.equal(new Set(ds.places.map((p) => p.placeId)).size, 60);
    for (const p of ds.places) {
      assert.deepEqual(validatePlace(p), [], p.placeId);
      assert.ok(p.reviews.length >= 4 && p.reviews.length <= 8);
      assert.match(p.hoursText, /Mon-Fri|Open 24 hours/);
    }
  });

  test('truth: 3-4 sentences, at most 10 amenities all mentioned in reviews, French hours', () => {
    for (const p of ds.places) {
      const t = ds.truth[p.placeId]!;
      const reviews = p.reviews.map((r) => r.text).join(' ');
      assert.ok([3, 4].includes(countSentences(t.description)), t.description);
      assert.ok(t.amenities.length >= 1 && t.amenities.length <= MAX_AMENITIES);
      for (const a of t.amenities) assert.ok(reviews.includes(a), `${p.placeId}: ${a} is mentioned`);
      assert.match(t.hoursFrench, /\d+ h \d\d|24 heures/);
      assert.ok(placeEnrichmentSchemaFor(p.placeId).safeParse({ id: p.placeId, ...t }).success);
    }
  });

  test('women-only hours: in the hours and mentioned by a review exactly when true; some of each', () => {
    const withHours = ds.places.filter((p) => ds.truth[p.placeId]!.hasWomenOnlyHours);
    assert.ok(withHours.length > 5 && withHours.length < 40, `${withHours.length} of 60`);
    for (const p of ds.places) {
      const has = ds.truth[p.placeId]!.hasWomenOnlyHours;
      assert.equal(p.hoursText.includes('Women-only hours'), has);
      assert.equal(ds.truth[p.placeId]!.hoursFrench.includes('réservées aux femmes'), has);
      if (has)
        assert.ok(
          p.reviews.some((r) => /women-only hours make|during the women-only|offer women-only/.test(r.text)),
        );
    }
  });

  test('some places mention more amenities than the answer may list: the truth keeps 10', () => {
    const crowded = ds.places.filter((p) => {
      const text = p.reviews.map((r) => r.text).join(' ');
      return AMENITIES.filter((a) => text.includes(a)).length > MAX_AMENITIES;
    });
    assert.ok(crowded.length > 0);
    for (const p of crowded) assert.equal(ds.truth[p.placeId]!.amenities.length, MAX_AMENITIES);
  });
});

describe('place validation', () => {
  const place = generatePlaces({ count: 1, seed: 1 }).places[0]!;
  const cases: Array<[string, unknown, RegExp]> = [
    ['missing', undefined, /not found/],
    ['no name', { ...place, name: ' ' }, /no name/],
    ['no reviews', { ...place, reviews: [] }, /no reviews/],
    [
      'empty review',
      { ...place, reviews: [{ reviewIndex: 2, author: 'a', rating: 5, text: '' }] },
      /review 2 has no text/,
    ],
    [
      'bad rating',
      { ...place, reviews: [{ reviewIndex: 0, author: 'a', rating: 9, text: 'ok' }] },
      /rating 9/,
    ],
  ];
  for (const [name, input, re] of cases)
    test(name, () => assert.match(validatePlace(input as never).join('; '), re));
});

describe('enrichment prompts', () => {
  const ds = generatePlaces({ count: 3, seed: 8 });
  const place = ds.places[0]!;

  test('ours: one prompt with every review and the place id in its envelope', () => {
    const messages = placeEnrichmentMessages(place);
    const text = messages.map((m) => m.content).join('\n\n');
    for (const r of place.reviews) assert.ok(text.includes(r.text));
    const envelope = parseEnvelope(text);
    assert.equal(envelope?.task, 'place_enrichment');
    assert.deepEqual(
      envelope?.items.map((i) => i.id),
      [place.placeId],
    );
  });

  test("the seed's design: three prompts, each with the full reviews", () => {
    assert.equal(SEED_ENRICHMENT_TASKS.length, 3);
    for (const task of SEED_ENRICHMENT_TASKS) {
      const text = seedEnrichmentMessages(place, task)
        .map((m) => m.content)
        .join('\n');
      for (const r of place.reviews) assert.ok(text.includes(r.text));
    }
  });

  test('the answer schema rejects a wrong id, 1 or 6 sentences, empty French, repeated amenities', () => {
    const good = { id: place.placeId, ...ds.truth[place.placeId]! };
    const schema = placeEnrichmentSchemaFor(place.placeId);
    assert.ok(schema.safeParse(good).success);
    const bad = [
      { ...good, id: 'p-x' },
      { ...good, description: 'One sentence.' },
      { ...good, description: 'A. B. C. D. E. F.' },
      { ...good, hoursFrench: ' ' },
      { ...good, amenities: ['sauna', 'Sauna'] },
      { ...good, amenities: Array.from({ length: 11 }, (_, i) => `a${i}`) },
    ];
    for (const b of bad) assert.ok(!schema.safeParse(b).success, JSON.stringify(b).slice(0, 120));
  });

  test('sentences: decimals and abbreviations inside a sentence do not split it', () => {
    assert.equal(countSentences('Rated 4.5 out of 5. Open 6:00 AM - 10:00 PM daily! Nice?'), 3);
    assert.equal(countSentences(''), 0);
  });
});
