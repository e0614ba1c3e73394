// Ids and S3 keys: a bounded charset and length, no `..`, no leading `/`; the object store refuses
// a bad key before any request. Provider and import text is bounded before it is stored.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { S3Client } from '@aws-sdk/client-s3';
import { InvalidIdError, idProblem, s3KeyProblem, validId, validS3Key } from '../../src/domain/ids';
import { boundStrings, boundText } from '../../src/domain/bounded-text';
import { ObjectStore } from '../../src/stores/s3';

const goodIds = ['evaluate-20260131T120000-ab12', 'm-0001', 'm-0001-r-00001', 'a.b_c:d-e', 'x'.repeat(100)];
for (const id of goodIds) {
  test(`id ${JSON.stringify(id.slice(0, 30))} is valid`, () => {
    assert.equal(idProblem('run id', id), undefined);
    assert.equal(validId('run id', id), id);
  });
}

const badIds: Array<[unknown, RegExp]> = [
  ['', /run id is empty/],
  ['x'.repeat(101), /101 characters long; at most 100/],
  ['../etc/passwd', /outside A-Z a-z 0-9/],
  ['a..b', /contains "\.\."/],
  ['..', /contains "\.\."/],
  ['/abs', /outside A-Z/],
  ['run id', /outside A-Z/],
  ['run#1', /outside A-Z/],
  ['ümlaut', /outside A-Z/],
  ['a\nb', /outside A-Z/],
  [42, /must be a string/],
];
for (const [id, why] of badIds) {
  test(`id ${JSON.stringify(id)} is refused: ${why.source}`, () => {
    assert.match(idProblem('run id', id)!, why);
    assert.throws(
      () => validId('run id', id),
      (err: unknown) => err instanceof InvalidIdError && err.name === 'InvalidInput' && why.test(err.message),
    );
  });
}

const goodKeys = [
  'harmonize/run-1/m-0001/PRODUCT_NAME/words.json',
  'batches/embed-1/line-00001/input-1.ndjson',
  'snapshots/2026-01-31T12-00-00-000Z/',
  'test-prefix/deltas/run/word-00002/part-00000.ndjson',
];
for (const key of goodKeys) {
  test(`S3 key ${key} is valid`, () => assert.equal(validS3Key(key), key));
}

const badKeys: Array<[string, RegExp]> = [
  ['', /empty/],
  ['/harmonize/x.json', /starts with "\/"/],
  ['harmonize/../secrets.json', /contains "\.\."/],
  ['a//b', /empty segment/],
  ['a/b c.json', /characters outside/],
  ['a/b\\c.json', /characters outside/],
  [`k/${'x'.repeat(1024)}`, /at most 1024/],
];
for (const [key, why] of badKeys) {
  test(`S3 key ${JSON.stringify(key.slice(0, 40))} is refused: ${why.source}`, () => {
    assert.match(s3KeyProblem(key)!, why);
    assert.throws(() => validS3Key(key), InvalidIdError);
  });
}

test('the object store refuses a bad key before sending anything', async () => {
  let sent = 0;
  const s3 = new S3Client({
    region: 'us-east-1',
    endpoint: 'http://127.0.0.1:9',
    credentials: { accessKeyId: 'x', secretAccessKey: 'y' },
  });
  s3.middlewareStack.add(
    (next) => (args) => {
      sent++;
      return next(args);
    },
    { step: 'initialize' },
  );
  const objects = new ObjectStore(s3, 'bucket');
  await assert.rejects(objects.putText('../x.json', '{}'), InvalidIdError);
  await assert.rejects(objects.getText('/etc/passwd'), InvalidIdError);
  await assert.rejects(objects.delete('a/../../b'), InvalidIdError);
  await assert.rejects(objects.list('a//'), InvalidIdError);
  assert.equal(sent, 0);
  s3.destroy();
});

test('boundText keeps short text and cuts long text to the bound with a mark', () => {
  assert.equal(boundText('short', 10), 'short');
  assert.equal(boundText('0123456789', 10), '0123456789');
  assert.equal(boundText('0123456789AB', 10), '012345678…');
  assert.equal(boundText('x'.repeat(5000), 1000).length, 1000);
  // A cut never splits a surrogate pair (an emoji is two UTF-16 units).
  const cut = boundText('abcd😀😀😀', 6);
  assert.equal(cut, 'abcd…');
  assert.ok(cut.length <= 6);
  assert.throws(() => boundText('x', 0), RangeError);
});

test('boundStrings bounds every string at any depth and leaves other values alone', () => {
  const long = 'r'.repeat(50);
  const bounded = boundStrings(
    { reason: long, n: 3, ok: true, none: null, list: [long, { message: long }], at: 'short' },
    10,
  );
  assert.deepEqual(bounded, {
    reason: `${'r'.repeat(9)}…`,
    n: 3,
    ok: true,
    none: null,
    list: [`${'r'.repeat(9)}…`, { message: `${'r'.repeat(9)}…` }],
    at: 'short',
  });
});
