// Fault scenario: Chroma down (every connection dropped) mid-compaction of an embedding backfill.
// Only the compactor writes Chroma in this pipeline, so the fault is armed to start right after
// the first request to Chroma: the compactor meets the outage while deltas wait to be applied.
// Items in Chroma are what counts: an item marked embedded whose vector never reached Chroma is lost.
import { embeddingRow, requestsAfterFault, startEmbeddingFaultRun, withProxy } from './fault-common';
import type { FaultRow, ScenarioContext } from './fault-common';

const RUN_DEADLINE_MS = 3 * 60_000;
const SETTLE_DEADLINE_MS = 120_000;

export async function chromaDownMidCompaction(ctx: ScenarioContext): Promise<FaultRow> {
  return withProxy(ctx.stack.chromaUrl, async (proxy) => {
    const run = await startEmbeddingFaultRun(ctx, { seed: 6, env: { CHROMA_URL: proxy.url } });
    try {
      await proxy.inject({ kind: 'reset' }, { afterRequests: 1, forMs: ctx.faultMs });
      const afterFault = requestsAfterFault(proxy);
      const started = await run.start('fault-compact-');
      const outcome = await run.finish(started, {
        runDeadlineMs: RUN_DEADLINE_MS,
        settleMs: SETTLE_DEADLINE_MS,
      });
      const stats = proxy.stats();
      return embeddingRow(run, outcome, {
        fault: 'Chroma down mid-compaction (embedding)',
        injected: `every connection to Chroma dropped for ${ctx.faultMs / 1000} s from the compactor's first Chroma request`,
        proxy: { requests: stats.requests, faulted: stats.faulted.reset, afterFault: afterFault() },
      });
    } finally {
      await run.close();
    }
  });
}
