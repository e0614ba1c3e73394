// Pure parts of the embedding pipeline: batch keys, custom_id codec, NDJSON request lines, batches
// cut to the API's limits, the join of output/error files, poll backoff, deltas; and the BatchApi
// against the provider emulator over real HTTP.
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import {
  BATCH_API_MAX_BYTES,
  BatchResultJoiner,
  BATCH_API_MAX_REQUESTS,
  DEFAULT_EMBED_SETTINGS,
  EmbeddingInputError,
  batchKeyOf,
  chunkRequestLines,
  decodeCustomId,
  decodeEmbedding,
  deltaToNdjson,
  effectiveLimits,
  encodeCustomId,
  isFinalBatchStatus,
  joinBatchResults,
  nextPollDelay,
  parseBatchKey,
  parseDeltaNdjson,
  requestLine,
  type DeltaRecord,
} from '../src/domain/embedding';
import { BatchApi } from '../src/llm/batch-api';
import { LlmFatalError } from '../src/llm/errors';
import { startEmulator, type EmulatorHandle } from '../dev/emulator/server';

describe('batch keys and custom ids', () => {
  test('a batch key round-trips, also for run ids with slashes', () => {
    for (const [runId, kind, seq] of [
      ['embed-20260101-abcd', 'WORD', 3],
      ['team/a/run-1', 'LINE', 0],
      ['x', 'WORD', 123456],
    ] as const) {
      const key = batchKeyOf(runId, kind, seq);
      assert.deepEqual(parseBatchKey(key), { runId, kind, seq });
    }
    assert.equal(batchKeyOf('r', 'WORD', 7), 'r/word-00007');
  });

  test('malformed batch keys are rejected as bad input', () => {
    for (const bad of ['', 'word-00001', '/word-1', 'r/sentence-1', 'r/word-']) {
      assert.throws(() => parseBatchKey(bad), EmbeddingInputError, bad);
    }
  });

  test('custom_id round-trips for ids holding # and :', () => {
    const cases = [
      ['WORD', 'm-0001-r-0001#L003#W002'],
      ['LINE', 'acme:1#L000'],
      ['WORD', 'a:b:c#L001#W001'],
    ] as const;
    for (const [kind, id] of cases) {
      const c = encodeCustomId(kind, id);
      assert.deepEqual(decodeCustomId(c), { kind, id });
    }
    assert.equal(encodeCustomId('LINE', 'r#L001'), 'line:r#L001');
  });

  test('malformed custom ids are rejected', () => {
    for (const bad of ['', 'word', 'word:', 'token:x', ':x']) {
      assert.throws(() => decodeCustomId(bad), EmbeddingInputError, bad);
    }
  });
});

describe('request lines and batch files', () => {
  test('a request line is one JSON object for /v1/embeddings, newline-terminated', () => {
    const line = requestLine('WORD', 'r#L001#W002', 'MILK <2.49>', 'text-embedding-3-small');
    assert.ok(line.endsWith('\n'));
    assert.equal(line.indexOf('\n'), line.length - 1, 'exactly one line');
    assert.deepEqual(JSON.parse(line), {
      custom_id: 'word:r#L001#W002',
      method: 'POST',
      url: '/v1/embeddings',
      body: { model: 'text-embedding-3-small', input: 'MILK <2.49>', encoding_format: 'float' },
    });
  });

  test('configured limits can only be at or below the API limits', () => {
    assert.deepEqual(effectiveLimits(), {
      maxRequests: BATCH_API_MAX_REQUESTS,
      maxBytes: BATCH_API_MAX_BYTES,
    });
    assert.deepEqual(effectiveLimits({ maxRequests: 10, maxBytes: 1000 }), {
      maxRequests: 10,
      maxBytes: 1000,
    });
    assert.deepEqual(effectiveLimits({ maxRequests: 1e9, maxBytes: 1e12 }), {
      maxRequests: 50_000,
      maxBytes: 200 * 1024 * 1024,
    });
    assert.deepEqual(effectiveLimits({ maxRequests: 0, maxBytes: Number.NaN }), {
      maxRequests: 50_000,
      maxBytes: 200 * 1024 * 1024,
    });
  });

  const items = (n: number, text = 'x') =>
    Array.from({ length: n }, (_, i) => ({ i, line: requestLine('LINE', `r#L${i}`, text, 'm') }));

  const cases: Array<{
    name: string;
    n: number;
    maxRequests: number;
    maxBytesLines?: number;
    sizes: number[];
  }> = [
    { name: 'by requests, even', n: 6, maxRequests: 3, sizes: [3, 3] },
    { name: 'by requests, remainder', n: 7, maxRequests: 3, sizes: [3, 3, 1] },
    { name: 'one batch when under both limits', n: 5, maxRequests: 100, sizes: [5] },
    { name: 'by bytes (2 lines fit)', n: 5, maxRequests: 100, maxBytesLines: 2, sizes: [2, 2, 1] },
    { name: 'bytes tighter than requests', n: 9, maxRequests: 4, maxBytesLines: 3, sizes: [3, 3, 3] },
    { name: 'nothing', n: 0, maxRequests: 3, sizes: [] },
  ];
  for (const c of cases) {
    test(`chunking ${c.name}`, () => {
      const all = items(c.n);
      const lineBytes = Buffer.byteLength(all[0]?.line ?? '');
      const maxBytes = c.maxBytesLines ? lineBytes * c.maxBytesLines : 1e9;
      const { batches, oversized } = chunkRequestLines(all, { maxRequests: c.maxRequests, maxBytes });
      assert.deepEqual(
        batches.map((b) => b.length),
        c.sizes,
      );
      assert.deepEqual(oversized, []);
      assert.deepEqual(
        batches.flat().map((x) => x.i),
        all.map((x) => x.i),
        'order kept, nothing lost',
      );
      for (const b of batches) {
        assert.ok(b.length <= c.maxRequests);
        assert.ok(b.reduce((n, x) => n + Buffer.byteLength(x.line), 0) <= maxBytes);
      }
    });
  }

  test('a line larger than the byte limit is set aside, the others are batched', () => {
    const small = items(3);
    const big = { i: 99, line: requestLine('LINE', 'r#L099', 'y'.repeat(500), 'm') };
    const maxBytes = Buffer.byteLength(small[0]!.line) * 2;
    const { batches, oversized } = chunkRequestLines([small[0]!, big, small[1]!, small[2]!], {
      maxRequests: 10,
      maxBytes,
    });
    assert.deepEqual(
      oversized.map((x) => x.i),
      [99],
    );
    assert.deepEqual(
      batches.map((b) => b.map((x) => x.i)),
      [[0, 1], [2]],
    );
  });

  test('multi-byte text is measured in bytes, not characters', () => {
    const euro = items(4, '€€€€€€€€€€');
    const bytes = Buffer.byteLength(euro[0]!.line);
    assert.ok(bytes > euro[0]!.line.length);
    const { batches } = chunkRequestLines(euro, { maxRequests: 100, maxBytes: bytes * 2 + 1 });
    assert.deepEqual(
      batches.map((b) => b.length),
      [2, 2],
    );
  });
});

describe('joining output and error files on custom_id', () => {
  const ok = (customId: string, embedding: unknown = [0.1, 0.2]) =>
    JSON.stringify({
      id: 'b',
      custom_id: customId,
      response: { status_code: 200, body: { data: [{ index: 0, embedding }] } },
      error: null,
    });
  const http = (customId: string, status: number, message: string) =>
    JSON.stringify({
      id: 'b',
      custom_id: customId,
      response: { status_code: status, body: { error: { message } } },
      error: null,
    });
  const expired = (customId: string) =>
    JSON.stringify({
      id: 'b',
      custom_id: customId,
      response: null,
      error: { code: 'batch_expired', message: 'not executed before the window expired' },
    });

  test('every request ends in exactly one bucket', () => {
    const sent = ['word:a', 'word:b', 'word:c', 'word:d', 'word:e', 'word:f'];
    const output = [ok('word:a'), ok('word:b', 'not-a-vector'), 'not json', ok('word:zzz')].join('\n');
    const errors = [http('word:c', 500, 'server error'), expired('word:d'), expired('word:a')].join('\n');
    const j = joinBatchResults(sent, output + '\n', errors);
    assert.deepEqual([...j.embedded.keys()], ['word:a']);
    assert.deepEqual(j.embedded.get('word:a'), [0.1, 0.2]);
    assert.deepEqual(
      [...j.errors.keys()].sort(),
      ['word:b', 'word:c', 'word:d'],
      'an output line wins over an error line for the same request',
    );
    assert.match(j.errors.get('word:b')!, /malformed embedding/);
    assert.match(j.errors.get('word:c')!, /HTTP 500: server error/);
    assert.match(j.errors.get('word:d')!, /^batch_expired/);
    assert.deepEqual(j.missing, ['word:e', 'word:f']);
    assert.deepEqual(j.unknown, ['word:zzz']);
    const buckets = j.embedded.size + j.errors.size + j.missing.length;
    assert.equal(buckets, sent.length);
  });

  test('the streaming joiner gives each vector once, as its line arrives, and the same buckets', () => {
    const sent = ['word:a', 'word:b', 'word:c', 'word:d'];
    const output = [ok('word:a'), http('word:b', 500, 'x'), ok('word:a', [9, 9]), ok('word:zzz')];
    const errors = [expired('word:c'), expired('word:a')];
    const joiner = new BatchResultJoiner(sent);
    const got = [...output, ...errors].map((l) => joiner.addLine(l)).filter((x) => x !== undefined);
    assert.deepEqual(got, [{ customId: 'word:a', vector: [0.1, 0.2] }]);
    const r = joiner.finish();
    assert.deepEqual([...r.embeddedIds], ['word:a']);
    assert.deepEqual([...r.errors.keys()].sort(), ['word:b', 'word:c']);
    assert.deepEqual(r.missing, ['word:d']);
    assert.deepEqual(r.unknown, ['word:zzz']);
  });

  test('a vector of the wrong dimension is an error of that request', () => {
    const j = joinBatchResults(
      ['line:x', 'line:y'],
      [ok('line:x', [1, 2, 3]), ok('line:y', [1, 2])].join('\n'),
      '',
      3,
    );
    assert.deepEqual([...j.embedded.keys()], ['line:x']);
    assert.match(j.errors.get('line:y')!, /2 dimensions, expected 3/);
  });

  test('base64 embeddings decode to float32 values', () => {
    const v = new Float32Array([0.5, -0.25, 1]);
    const b64 = Buffer.from(v.buffer).toString('base64');
    assert.deepEqual(decodeEmbedding(b64), [0.5, -0.25, 1]);
    assert.equal(decodeEmbedding('abc'), undefined);
    assert.equal(decodeEmbedding([]), undefined);
    assert.equal(decodeEmbedding([1, 'x']), undefined);
  });
});

describe('poll backoff, statuses, deltas', () => {
  test('delays double from 30 s and stay at 10 min', () => {
    const delays: number[] = [];
    let d = DEFAULT_EMBED_SETTINGS.pollInitialMs;
    for (let i = 0; i < 8; i++) {
      delays.push(d);
      d = nextPollDelay(d, DEFAULT_EMBED_SETTINGS.pollBackoff, DEFAULT_EMBED_SETTINGS.pollMaxMs);
    }
    assert.deepEqual(
      delays.map((x) => x / 1000),
      [30, 60, 120, 240, 480, 600, 600, 600],
    );
  });

  test('final statuses', () => {
    for (const s of ['completed', 'expired', 'cancelled', 'failed']) assert.ok(isFinalBatchStatus(s), s);
    for (const s of ['validating', 'in_progress', 'finalizing', 'cancelling', 'other'])
      assert.ok(!isFinalBatchStatus(s), s);
  });

  test('a delta round-trips through NDJSON; bad lines are rejected', () => {
    const records: DeltaRecord[] = [
      {
        kind: 'WORD',
        id: 'r#L001#W001',
        vector: [0.1, 0.2],
        document: '<MILK>',
        metadata: { label: 'NONE' },
      },
      { kind: 'LINE', id: 'r#L001', vector: [0.3], document: 'MILK 2.49', metadata: { lineIndex: 1 } },
    ];
    assert.deepEqual(parseDeltaNdjson(deltaToNdjson(records)), records);
    assert.equal(deltaToNdjson([]), '');
    assert.throws(() => parseDeltaNdjson('{"kind":"WORD"}\n'), EmbeddingInputError);
    assert.throws(() => parseDeltaNdjson('nope\n'), EmbeddingInputError);
  });
});

describe('BatchApi against the provider emulator', () => {
  let emu: EmulatorHandle;
  let api: BatchApi;
  before(async () => {
    emu = await startEmulator({ port: 0, latencyMs: 0, batchCompleteAfterS: 0.3, embeddingDim: 16 });
    api = new BatchApi(`${emu.url}/v1`, 'test-key', 10_000);
  });
  after(async () => emu?.close());

  test('upload, create, find by input file, retrieve until final, join the output', async () => {
    const texts = ['MILK 2.49', 'BREAD 1.99', 'TOTAL 4.48'];
    const body = texts.map((t, i) => requestLine('LINE', `r#L00${i}`, t, 'text-embedding-3-small')).join('');
    const fileId = await api.uploadInputFile(body, 'input.jsonl');
    const created = await api.createEmbeddingsBatch(fileId, { batch_key: 'r/line-00000' });
    const found = await api.findByInputFile(fileId, created.created_at - 60);
    assert.equal(found?.id, created.id, 'a retried submission finds the batch instead of creating another');
    assert.equal(await api.findByInputFile('file-unknown', created.created_at - 60), undefined);
    let b = created;
    while (!isFinalBatchStatus(b.status)) {
      await new Promise((r) => setTimeout(r, 50));
      b = await api.retrieve(created.id);
    }
    assert.equal(b.status, 'completed');
    const sent = texts.map((_, i) => `line:r#L00${i}`);
    const j = joinBatchResults(sent, await api.fileText(b.output_file_id!), '', 16);
    assert.equal(j.embedded.size, 3);
    assert.deepEqual(j.missing, []);
    // The streamed lines of the same file join the same way.
    const joiner = new BatchResultJoiner(sent, 16);
    for await (const line of api.fileLines(b.output_file_id!)) joiner.addLine(line);
    assert.deepEqual([...joiner.finish().embeddedIds].sort(), [...j.embedded.keys()].sort());
  });

  test('file lines stream across chunk boundaries and multi-byte characters', async () => {
    const euro = Buffer.from('€');
    const pieces = [
      Buffer.from('{"a":1}\n{"b":"x'),
      euro.subarray(0, 1),
      Buffer.concat([euro.subarray(1), Buffer.from('"}\n')]),
      Buffer.from('{"c":3}'),
    ];
    const server = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      let i = 0;
      const next = () => (i < pieces.length ? res.write(pieces[i++], () => setTimeout(next, 5)) : res.end());
      next();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const port = (server.address() as { port: number }).port;
      const lines: string[] = [];
      for await (const l of new BatchApi(`http://127.0.0.1:${port}/v1`, 'k', 5_000).fileLines('file-x'))
        lines.push(l);
      assert.deepEqual(lines, ['{"a":1}', '{"b":"x€"}', '{"c":3}']);
    } finally {
      server.close();
    }
  });

  test('an unknown batch is a fatal (non-retryable) error, typed like every provider error', async () => {
    await assert.rejects(api.retrieve('batch_nope'), (err: unknown) => {
      assert.ok(err instanceof LlmFatalError, String(err));
      assert.equal(err.status, 404);
      return true;
    });
  });
});
