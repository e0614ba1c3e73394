// Fault tests on the real stack: one service behind the fault proxy, a fault injected mid-run, and
// every item accounted for (succeeded, or failed with its reason; none lost), the LLM cap held.
// The rows are the ones `npm run bench -- --faults` writes to docs/RELIABILITY.md.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { AppConfig } from '../src/config';
import { FAULT_SCENARIOS, jsonRow, type FaultRow } from '../bench/faults';
import { ensureStack } from '../dev/harness/stack';

/**
 * Shorter than the 30 s (the bench's): the retry layers behave the same after a few seconds
 * of outage. 6 s outlasts the SDK's own retries, so an activity fails and waits in Temporal's backoff
 * (1, 2, 4 s); its retry at 7 s finds the service back, where 8-12 s would hold it until 15 s.
 */
const FAULT_MS = 6_000;

describe('faults injected mid-run on the real stack', { timeout: 12 * 60_000 }, () => {
  let stack: AppConfig;
  const rows: FaultRow[] = [];
  before(async () => {
    stack = await ensureStack();
  });
  after(() => {
    for (const r of rows) console.log(`fault row: ${JSON.stringify({ ...jsonRow(r), detail: r.detail })}`);
  });

  for (const [name, scenario] of Object.entries(FAULT_SCENARIOS)) {
    test(`${name}: every item accounted for, none lost, the cap held`, { timeout: 6 * 60_000 }, async () => {
      const row = await scenario({ stack, faultMs: FAULT_MS, log: (l) => console.log(l) });
      rows.push(row);
      console.log(`${name}: ${JSON.stringify({ ...jsonRow(row), detail: row.detail })}`);
      assert.ok(row.items > 0, 'the scenario had items');
      assert.ok(row.detail.proxy.faulted > 0, 'the fault hit requests or connections');
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
    });
  }
});
