// The AWS clients drop the SDK's logger middleware: it built a redacted copy of every request's input
// and output for a logger that discards it (src/stores/clients.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../src/config';
import { createDynamoClient, createS3Client } from '../src/stores/clients';

test('the DynamoDB and S3 clients carry no logger middleware, and keep the rest of their stack', () => {
  const cfg = loadConfig({});
  for (const [name, client] of [
    ['dynamodb', createDynamoClient(cfg)],
    ['s3', createS3Client(cfg)],
  ] as const) {
    const stack = client.middlewareStack.identify();
    assert.ok(!stack.some((m) => m.startsWith('loggerMiddleware')), `${name}: ${stack.join(', ')}`);
    assert.ok(
      stack.some((m) => m.startsWith('serializerMiddleware')),
      `${name} still serializes: ${stack.join(', ')}`,
    );
    client.destroy();
  }
});
