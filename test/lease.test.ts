// The global cap holds when a permit's lease cannot be kept: a call whose renewals fail, or whose
// slot was taken over, has its provider request aborted before another process may take the slot;
// a worker with another cap than the shared one is refused; a lease under 10 s is refused by the
// config. Real limiter on dynalite, real provider adapter against the emulator.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { ConfigError, loadConfig } from '../src/config';
import { toActivityFailure } from '../src/llm/errors';
import { LlmLeaseLostError, leaseEndForOthers } from '../src/llm/lease-keeper';
import { GlobalLimiter, LimiterCapMismatchError, type Permit } from '../src/llm/limiter';
import { createDynamoClient } from '../src/stores/clients';
import { startWorkers } from '../src/worker';
import { askNumber, injectDynamoFault, llmClient, startLlmStack, type LlmStack } from './helpers/llm-client';
import { readSlots, waitFor } from '../dev/harness/llm-layer';
import { uniqueId } from '../dev/harness/pipeline';

/** Short leases keep the tests short; the margin is wide so a busy machine's timer lag fits in it. */
const LEASE = { leaseMs: 4000, skewMarginMs: 1000, adaptive: false, cap: 1 } as const;

describe('a call whose permit lease is lost stops before another process can take its slot', () => {
  let s: LlmStack;
  before(async () => {
    // The provider hangs: only the lease keeper can end the request.
    s = await startLlmStack({ latencyMs: 600_000 });
  });
  after(async () => s?.close());

  /**
   * Starts a call that holds the permit of limiter `name` with its request in flight; while
   * `outage()` is true, every DynamoDB request of its process fails (renewals, the release too).
   */
  async function hangingCall(name: string, outage: () => boolean) {
    const holder = llmClient(s.cfg, {}, { ...LEASE, name });
    injectDynamoFault(holder.ddb, () => true, outage);
    const started = s.emulator.metrics().requests;
    const call = askNumber(holder.llm, { runId: 'lease', callId: uniqueId('c') }, { noCache: true }).then(
      () => undefined,
      (err: unknown) => ({ err, at: Date.now() }),
    );
    await waitFor('the request to reach the provider', async () =>
      s.emulator.metrics().requests > started && s.emulator.metrics().inFlight === 1 ? true : undefined,
    );
    const [slot] = await readSlots(holder.ddb, s.cfg.DYNAMODB_TABLE, name);
    assert.ok(slot, 'the call holds a slot');
    return { call, slot };
  }

  test('renewals failing: the request is aborted before the lease ends, and the next holder finds the provider idle', async () => {
    const name = `lapse-${uniqueId()}`;
    let failing = false;
    const { call, slot } = await hangingCall(name, () => failing);
    failing = true; // DynamoDB unreachable from the holder's process from now on
    // Another process waits for the only permit; it gets it once the lease has ended as others see it.
    const other = new GlobalLimiter(createDynamoClient(s.cfg), s.cfg.DYNAMODB_TABLE, { ...LEASE, name });
    const permit: Permit = await other.acquire(AbortSignal.timeout(60_000));
    const inFlightWhenTaken = s.emulator.metrics().inFlight;
    const outcome = await call;
    assert.ok(outcome, 'the call failed');
    assert.ok(outcome.err instanceof LlmLeaseLostError, String(outcome.err));
    assert.match(outcome.err.message, /could not be renewed.*injected fault/);
    assert.equal(toActivityFailure(outcome.err).nonRetryable, false, 'Temporal retries it');
    // Aborted within the lease as written (the holder stops skewMarginMs early)...
    assert.ok(outcome.at < slot.leaseUntil, `aborted ${outcome.at - slot.leaseUntil} ms after the lease end`);
    // ... so when the other process took the slot, nothing of the first call was at the provider.
    assert.ok(permit.acquiredAt >= leaseEndForOthers(slot.leaseUntil, LEASE.skewMarginMs));
    assert.equal(inFlightWhenTaken, 0);
    assert.ok(s.emulator.metrics().inFlightMax <= 1, 'never more than the cap in flight');
    await other.release(permit);
  });

  test('slot taken over (as by a process whose clock runs ahead): the next renewal aborts the request at once', async () => {
    const name = `taken-${uniqueId()}`;
    const { call, slot } = await hangingCall(name, () => false);
    await createDynamoClient(s.cfg).send(
      new PutCommand({
        TableName: s.cfg.DYNAMODB_TABLE,
        Item: {
          PK: `LIMITER#${name}`,
          SK: `SLOT#${String(slot.slot).padStart(3, '0')}`,
          slot: slot.slot,
          holder: 'another-host:1:x:1',
          acquiredAt: Date.now(),
          leaseUntil: Date.now() + 60_000,
        },
      }),
    );
    const outcome = await call;
    assert.ok(outcome?.err instanceof LlmLeaseLostError, String(outcome?.err));
    assert.match(outcome.err.message, /another holder has taken its slot/);
    assert.ok(outcome.at < slot.leaseUntil, 'stopped at the first renewal, before its own lease end');
    await waitFor('the provider to see the request end', async () =>
      s.emulator.metrics().inFlight === 0 ? true : undefined,
    );
    // The new holder's slot item is untouched by the aborted call's release.
    const [after] = await readSlots(createDynamoClient(s.cfg), s.cfg.DYNAMODB_TABLE, name);
    assert.equal(after?.holder, 'another-host:1:x:1');
  });
});

describe('one cap for every worker', () => {
  let s: LlmStack;
  before(async () => {
    s = await startLlmStack();
  });
  after(async () => s?.close());

  test('a limiter with another cap than the stored one is refused, naming both; a reset makes the new one stored', async () => {
    const name = `cap-${uniqueId()}`;
    const limiter = (cap: number) =>
      new GlobalLimiter(createDynamoClient(s.cfg), s.cfg.DYNAMODB_TABLE, { name, cap, leaseMs: 10_000 });
    const four = limiter(4);
    await four.checkCap(); // the first one stores its cap
    const six = limiter(6);
    await assert.rejects(six.checkCap(), (err: Error) => {
      assert.ok(err instanceof LimiterCapMismatchError);
      assert.match(
        err.message,
        /cap of 4 .*LLM_MAX_CONCURRENT_CALLS=6.*LLM_MAX_CONCURRENT_CALLS=4.*LLM_LIMITER_RESET=true/s,
      );
      return true;
    });
    await assert.rejects(six.acquire(), LimiterCapMismatchError, 'nor can it take a permit');
    assert.equal((await four.snapshot()).state.cap, 4, 'the stored cap is unchanged');
    // The deliberate change: the new cap is stored, and the old worker is refused from then on.
    await six.resetState();
    await six.checkCap();
    await assert.rejects(four.acquire(), /cap of 6 .*LLM_MAX_CONCURRENT_CALLS=4/s);
  });

  test('an llm worker started with another cap is refused at start with a ConfigError; LLM_LIMITER_RESET=true starts it', async () => {
    const env = { ...process.env, DYNAMODB_TABLE: s.cfg.DYNAMODB_TABLE, TASK_QUEUE_LLM: `llm-${uniqueId()}` };
    await new GlobalLimiter(createDynamoClient(s.cfg), s.cfg.DYNAMODB_TABLE, {
      cap: 3,
      leaseMs: 10_000,
    }).resetState();
    await assert.rejects(
      startWorkers(loadConfig({ ...env, LLM_MAX_CONCURRENT_CALLS: '5' }), { queues: ['llm'] }),
      (err: Error) =>
        err instanceof ConfigError && /cap of 3 .*LLM_MAX_CONCURRENT_CALLS=5/s.test(err.message),
    );
    const workers = await startWorkers(
      loadConfig({ ...env, LLM_MAX_CONCURRENT_CALLS: '5', LLM_LIMITER_RESET: 'true' }),
      { queues: ['llm'] },
    );
    await workers.shutdown();
    const stored = await new GlobalLimiter(createDynamoClient(s.cfg), s.cfg.DYNAMODB_TABLE, {
      cap: 5,
      leaseMs: 10_000,
    }).snapshot();
    assert.equal(stored.state.cap, 5);
  });
});

describe('configuration', () => {
  test('a permit lease under 10 s is refused, and the error says why', () => {
    assert.throws(
      () => loadConfig({ LLM_PERMIT_LEASE_MS: '5000' }),
      (err: Error) => err instanceof ConfigError && /LLM_PERMIT_LEASE_MS.*at least 10000/.test(err.message),
    );
    assert.equal(loadConfig({ LLM_PERMIT_LEASE_MS: '10000' }).LLM_PERMIT_LEASE_MS, 10_000);
  });
});
