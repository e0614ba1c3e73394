// Text from providers and imports is bounded where it enters DynamoDB items (real dynalite), and ids
// that would escape their key prefix are refused by the stores before any write.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig, type AppConfig } from '../src/config';
import { createStores } from '../src/deps';
import { MAX_PROVIDER_TEXT, MAX_WORD_TEXT } from '../src/domain/bounded-text';
import { InvalidIdError } from '../src/domain/ids';
import { keys } from '../src/stores/receipts';
import { PlaceStore } from '../src/stores/places';
import { ensureTable } from '../src/stores/provision';
import { ensureStack } from '../dev/harness/stack';
import { uniqueId } from '../dev/harness/pipeline';

const LONG = 'because '.repeat(2000); // 16,000 characters, as a rambling answer might give

describe('store boundary bounds', { timeout: 120_000 }, () => {
  let cfg: AppConfig;
  let stores: ReturnType<typeof createStores>;
  before(async () => {
    await ensureStack();
    cfg = loadConfig({ ...process.env, DYNAMODB_TABLE: `test-bounds-${uniqueId()}` });
    await ensureTable(cfg);
    stores = createStores(cfg);
  });
  after(() => stores?.ddb.destroy());

  test('a result reason and the provider text in its detail are stored bounded', async () => {
    await stores.runs.putResult({
      runId: 'bounds-run-1',
      itemId: 'r-1',
      status: 'FAILED',
      reason: LONG,
      detail: { reviews: [{ wordId: 'w', decision: 'INVALID', reason: LONG }], count: 2 },
      attempt: 1,
      at: 1,
    });
    const [stored] = await stores.runs.listResults('bounds-run-1');
    assert.equal(stored!.reason!.length, MAX_PROVIDER_TEXT);
    assert.ok(stored!.reason!.startsWith('because because'));
    assert.ok(stored!.reason!.endsWith('…'));
    const review = (stored!.detail as { reviews: Array<{ reason: string }> }).reviews[0]!;
    assert.equal(review.reason.length, MAX_PROVIDER_TEXT);
    assert.equal((stored!.detail as { count: number }).count, 2);
  });

  test('a review reason, a long word and a place enrichment are stored bounded', async () => {
    await stores.receipts.putReceipts([
      {
        receiptId: 'b-r-1',
        merchantId: 'b-m-1',
        merchantName: 'B',
        purchasedAt: '2026-01-31',
        lines: [
          {
            lineId: 'b-r-1#L000',
            lineIndex: 0,
            text: 'W'.repeat(5000),
            words: [{ wordId: 'b-r-1#L000#W000', lineIndex: 0, wordIndex: 0, text: 'W'.repeat(5000) }],
          },
        ],
      },
    ]);
    const applied = await stores.receipts.applyLabelUpdates('bounds-run-2', [
      { wordId: 'b-r-1#L000#W000', validationStatus: 'INVALID', reason: LONG, source: 'llm' },
    ]);
    assert.equal(applied, 1);
    const word = await stores.receipts.get(keys.word('b-r-1', 0, 0));
    assert.equal(String(word!.text).length, MAX_WORD_TEXT);
    assert.equal(String(word!.labelReason).length, MAX_PROVIDER_TEXT);

    const places = new PlaceStore(stores.receipts);
    await places.putPlaces([
      { placeId: 'b-p-1', name: 'Gym', address: 'a', city: 'c', phone: 'p', hoursText: 'h', reviews: [] },
    ]);
    await places.saveEnrichment('b-p-1', 'bounds-run-3', {
      description: LONG,
      amenities: [LONG, 'pool'],
      hasWomenOnlyHours: false,
      hoursFrench: 'lun-ven',
    });
    const place = await stores.receipts.get({ PK: 'PLACE#b-p-1', SK: 'META' });
    const enrichment = place!.enrichment as { description: string; amenities: string[]; hoursFrench: string };
    assert.equal(enrichment.description.length, MAX_PROVIDER_TEXT);
    assert.deepEqual(
      enrichment.amenities.map((a) => a.length),
      [MAX_PROVIDER_TEXT, 4],
    );
    assert.equal(enrichment.hoursFrench, 'lun-ven');
  });

  test('a run id or merchant id that would escape its key prefix is refused before any write', async () => {
    await assert.rejects(
      stores.runs.putResult({ runId: '../other', itemId: 'x', status: 'SUCCEEDED', attempt: 1, at: 1 }),
      (err: unknown) => err instanceof InvalidIdError && /run id "\.\.\/other"/.test(err.message),
    );
    await assert.rejects(stores.receipts.listReceiptIds('a#LABEL#X'), InvalidIdError);
    assert.equal(
      await stores.runs.getRun('../other').catch((e: unknown) => e instanceof InvalidIdError),
      true,
    );
  });
});
