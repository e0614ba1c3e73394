// Process faults on the real stack: an `llm` worker process stopped (SIGSTOP) past its permit lease
// while holding permits, one killed (kill -9) between a paid answer and its activity's completion,
// the Temporal dev server killed and restarted mid-run. Every item is accounted for (none lost),
// the provider never sees more calls at once than the cap, and nothing is paid twice beyond the
// calls in flight when the fault hit. The rows are the ones `npm run bench -- --faults` writes.
// The file runs on a Temporal dev server of its own (the one it kills), so it runs beside others.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { AppConfig } from '../src/config';
import { PROCESS_FAULT_SCENARIOS, jsonRow, type FaultRow } from '../bench/faults';
import { LlmLeaseLostError, leaseEndForOthers } from '../src/llm/lease-keeper';
import { GlobalLimiter, type Permit } from '../src/llm/limiter';
import { createDynamoClient } from '../src/stores/clients';
import { askNumber, llmClient, startLlmStack, type LlmStack } from './helpers/llm-client';
import { readSlots } from '../dev/harness/llm-layer';
import { startOwnTemporal, type OwnTemporal } from './helpers/own-temporal';
import { uniqueId } from '../dev/harness/pipeline';
import { killAllWorkerProcesses } from '../dev/harness/worker-process';

/** How long the Temporal server stays down (the worker stop is set by the lease, not by this). */
const FAULT_MS = 5_000;

async function runScenario(stack: AppConfig, name: string): Promise<FaultRow> {
  const row = await PROCESS_FAULT_SCENARIOS[name]!({ stack, faultMs: FAULT_MS, log: (l) => console.log(l) });
  console.log(`${name}: ${JSON.stringify({ ...jsonRow(row), detail: row.detail })}`);
  return row;
}

/** What every row must show: all items accounted for, none lost, the cap held, the run completed. */
function assertAccountedFor(row: FaultRow): void {
  assert.ok(row.items > 0, 'the scenario had items');
  assert.equal(row.lost, 0, `items lost: ${JSON.stringify(row)}`);
  assert.equal(
    row.succeeded + row.failedWithReason,
    row.items,
    'every item succeeded or failed with a reason',
  );
  assert.equal(
    row.capHeld,
    true,
    `provider saw ${row.detail.inFlightMax} calls at once, cap ${row.detail.cap}`,
  );
  assert.match(row.detail.runStatus, /^COMPLETED/, 'the run completed despite the fault');
}

let ownTemporal: OwnTemporal | undefined;
before(async () => {
  ownTemporal = await startOwnTemporal();
});
after(async () => {
  killAllWorkerProcesses();
  await ownTemporal?.stop();
});

describe('process faults mid-run on the real stack', { timeout: 12 * 60_000 }, () => {
  let stack: AppConfig;
  before(() => {
    stack = ownTemporal!.cfg;
  });

  test(
    'an llm worker stopped past its lease while holding permits: its slots and calls are taken over, the cap held, at most its calls in flight paid again',
    { timeout: 4 * 60_000 },
    async () => {
      const row = await runScenario(stack, 'llm-worker-sigstop-past-lease');
      assertAccountedFor(row);
      assert.ok(row.detail.inFlightAtFault > 0, 'it held permits when stopped');
      assert.match(row.detail.injected, /slots taken over meanwhile: yes/, 'another worker took its slots');
      assert.match(
        row.detail.injected,
        /both workers alive after: yes/,
        'the stopped worker went on after SIGCONT',
      );
      assert.ok(
        row.extraProviderRequests <= row.detail.inFlightAtFault,
        `paid again ${row.extraProviderRequests}, calls in flight when stopped ${row.detail.inFlightAtFault}`,
      );
      assert.equal(row.failedWithReason, 0, 'the calls were retried, not failed');
    },
  );

  test(
    'kill -9 between a provider answer and the activity completion, --no-cache: 0 extra provider requests',
    { timeout: 3 * 60_000 },
    async () => {
      const row = await runScenario(stack, 'llm-worker-killed-after-answer');
      assertAccountedFor(row);
      assert.match(row.detail.injected, /ended by SIGKILL/, 'the worker died by SIGKILL after a paid answer');
      assert.equal(row.extraProviderRequests, 0, `paid twice: ${JSON.stringify(row.detail)}`);
      assert.equal(row.detail.providerRequests, row.detail.cleanProviderRequests);
    },
  );

  test(
    'kill -9 of the pipeline worker between batches.create and the recorded SUBMITTED: the retry finds the batch, none paid twice, none lost',
    { timeout: 5 * 60_000 },
    async () => {
      const row = await runScenario(stack, 'pipeline-worker-killed-after-batch-create');
      assertAccountedFor(row);
      assert.equal(row.detail.proxy.faulted, 1, 'the worker was killed after a batch was created');
      assert.match(row.detail.injected, /ended by SIGKILL/);
      assert.equal(
        row.extraProviderRequests,
        0,
        `a second batch was paid for: ${JSON.stringify(row.detail)}`,
      );
    },
  );

  test(
    'the Temporal server killed and restarted mid-run: the worker reconnects, the run completes, none lost',
    { timeout: 5 * 60_000 },
    async () => {
      const row = await runScenario(stack, 'temporal-killed-restarted');
      assertAccountedFor(row);
      assert.match(
        row.detail.injected,
        /worker process alive after: yes/,
        'the worker process survived the outage',
      );
      assert.ok(
        row.extraProviderRequests <= row.detail.inFlightAtFault,
        `paid again ${row.extraProviderRequests}, calls in flight when it was killed ${row.detail.inFlightAtFault}`,
      );
    },
  );
});

/**
 * A process paused right after its permit was written (SIGSTOP, or its event loop blocked): no
 * timer of it runs meanwhile, so only a look at the lease itself stops the request.
 */
class LimiterPausedAfterAcquire extends GlobalLimiter {
  override async acquire(signal?: AbortSignal, onWait?: () => void): Promise<Permit> {
    const permit = await super.acquire(signal, onWait);
    const until = leaseEndForOthers(permit.leaseUntil, this.opts.skewMarginMs) + 50;
    while (Date.now() < until); // paused: nothing else of this process runs until others may take the slot
    return permit;
  }
}

describe('a process paused between taking its permit and sending its request', () => {
  let s: LlmStack;
  before(async () => {
    s = await startLlmStack();
  });
  after(async () => s?.close());

  test('resumes past its lease: the request is never sent (another process may hold the slot), the call fails retryably, the slot is free', async () => {
    const name = `paused-${uniqueId()}`;
    const ddb = createDynamoClient(s.cfg);
    const limiter = new LimiterPausedAfterAcquire(ddb, s.cfg.DYNAMODB_TABLE, {
      name,
      cap: 1,
      leaseMs: 1500,
      skewMarginMs: 300,
      adaptive: false,
    });
    const { llm } = llmClient(s.cfg, { ddb, limiter });
    const before = s.emulator.metrics().requests;
    await assert.rejects(
      askNumber(llm, { runId: 'paused', callId: uniqueId('c') }, { noCache: true }),
      (err: Error) => {
        assert.ok(err instanceof LlmLeaseLostError, String(err));
        assert.match(err.message, /ended before the request was sent/);
        return true;
      },
    );
    assert.equal(s.emulator.metrics().requests, before, 'no request left under the ended lease');
    const slots = await readSlots(ddb, s.cfg.DYNAMODB_TABLE, name);
    assert.ok(
      slots.every((slot) => slot.leaseUntil < Date.now()),
      `the slot is not held: ${JSON.stringify(slots)}`,
    );
  });
});
