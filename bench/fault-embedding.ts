// Fault scenario: S3 down (every connection dropped, counted) mid-embedding, from the first batch at the provider:
// batch outputs, deltas and the compactor's reads all meet the outage.
import {
  embeddingRow,
  providerBatches,
  requestsAfterFault,
  startEmbeddingFaultRun,
  waitFor,
  withProxy,
} from './fault-common';
import type { FaultRow, ScenarioContext } from './fault-common';

const RUN_DEADLINE_MS = 3 * 60_000;
const SETTLE_DEADLINE_MS = 90_000;

export async function s3DownMidEmbedding(ctx: ScenarioContext): Promise<FaultRow> {
  return withProxy(ctx.stack.s3Endpoint, async (proxy) => {
    const run = await startEmbeddingFaultRun(ctx, { seed: 5, env: { S3_ENDPOINT: proxy.url } });
    try {
      const started = await run.start('fault-s3-');
      await waitFor('the first embedding batch at the provider', async () =>
        (await providerBatches(run.h.emulator.url)).length >= 1 ? true : undefined,
      );
      await proxy.inject({ kind: 'reset' }, { forMs: ctx.faultMs });
      const afterFault = requestsAfterFault(proxy);
      const outcome = await run.finish(started, {
        runDeadlineMs: RUN_DEADLINE_MS,
        settleMs: SETTLE_DEADLINE_MS,
        // Every item settled, and the compactor done with the deltas.
        settled: (s) =>
          s.pending === 0 && s.deltasPending === 0 && s.batchesOpen === 0 && s.compactor.status !== 'RUNNING',
      });
      const stats = proxy.stats();
      return embeddingRow(run, outcome, {
        fault: 'S3 down mid-embedding',
        injected: `every connection to S3 dropped for ${ctx.faultMs / 1000} s from the first batch submitted`,
        proxy: { requests: stats.requests, faulted: stats.faulted.reset, afterFault: afterFault() },
      });
    } finally {
      await run.close();
    }
  });
}
