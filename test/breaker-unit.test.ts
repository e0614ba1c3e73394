// Unit: the provider breaker of an `llm` process (pure logic, no provider) and the failures it yields.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ProviderBreaker } from '../src/llm/breaker';
import {
  LlmCircuitOpenError,
  LlmFatalError,
  LlmProviderAuthError,
  errorForStatus,
  toActivityFailure,
} from '../src/llm/errors';

const ok = () => Promise.resolve('answer');
const failWith = (err: Error) => () => Promise.reject(err);

describe('provider breaker', () => {
  test('401 and 403 are auth errors; the failure is non-retryable, names the status and what to do', () => {
    for (const status of [401, 403]) {
      const err = errorForStatus(status, undefined, `OpenAI answered ${status}: Incorrect API key`);
      assert.ok(err instanceof LlmProviderAuthError, String(err));
      assert.ok(err instanceof LlmFatalError, 'still a fatal error for the call records');
      const f = toActivityFailure(err);
      assert.deepEqual([f.type, f.nonRetryable], ['LlmProviderAuth', true]);
      assert.match(f.message, new RegExp(`HTTP ${status}`));
      assert.match(f.message, /Check the API key/);
    }
    assert.ok(!(errorForStatus(404, undefined, 'no model') instanceof LlmProviderAuthError));
  });

  test('an auth error opens the run: the next call is refused without running', async () => {
    const b = new ProviderBreaker();
    await assert.rejects(b.call('r1', undefined, failWith(new LlmProviderAuthError(401, 'bad key'))), {
      name: 'LlmProviderAuthError',
    });
    let ran = false;
    await assert.rejects(
      b.call('r1', undefined, async () => {
        ran = true;
      }),
      (err: unknown) => err instanceof LlmCircuitOpenError && /HTTP 401/.test(err.message),
    );
    assert.equal(ran, false);
    assert.equal(toActivityFailure(b.openReason('r1')).type, 'LlmCircuitOpen');
    // Another run is not affected.
    assert.equal(await b.call('r2', undefined, ok), 'answer');
  });

  test('calls in flight when the breaker opens are aborted and fail as circuit open', async () => {
    const b = new ProviderBreaker();
    const waiting = b.call(
      'r1',
      undefined,
      (signal) =>
        new Promise((_, reject) => signal.addEventListener('abort', () => reject(new Error('aborted')))),
    );
    await assert.rejects(b.call('r1', undefined, failWith(new LlmProviderAuthError(403, 'forbidden'))));
    await assert.rejects(waiting, (err: unknown) => err instanceof LlmCircuitOpenError);
  });

  test('a burst of fatal errors opens it; a success in between resets the count', async () => {
    const b = new ProviderBreaker({ fatalBurst: 3 });
    const fatal = failWith(new LlmFatalError(400, 'bad request'));
    await assert.rejects(b.call('r', undefined, fatal));
    await assert.rejects(b.call('r', undefined, fatal));
    await b.call('r', undefined, ok);
    await assert.rejects(b.call('r', undefined, fatal));
    await assert.rejects(b.call('r', undefined, fatal));
    assert.equal(b.openReason('r'), undefined, 'two in a row after a success: still closed');
    await assert.rejects(b.call('r', undefined, fatal));
    assert.match(b.openReason('r')?.message ?? '', /3 calls in a row failed for good/);
    await assert.rejects(b.call('r', undefined, ok), (err: unknown) => err instanceof LlmCircuitOpenError);
  });

  test("the caller's own abort reaches the call", async () => {
    const b = new ProviderBreaker();
    const caller = new AbortController();
    const call = b.call(
      'r',
      caller.signal,
      (signal) =>
        new Promise((_, reject) => signal.addEventListener('abort', () => reject(new Error('cancelled')))),
    );
    caller.abort();
    await assert.rejects(call, /cancelled/);
    assert.equal(b.openReason('r'), undefined);
  });
});
