// Fault scenario: Chroma down (every connection dropped) mid-harmonization, from the run's first
// request to it: existing vectors are read and new ones upserted while Chroma is away. A clean run of the
// same data (own table, own collections) gives the provider requests the faulted run should make.
import type { HarmonizeReport } from '../src/activities/harmonize';
import { createHarmonizationStores, createStores } from '../src/deps';
import { harmonizeLabels } from '../src/workflows';
import type { FaultProxy } from '../dev/stack/fault-proxy';
import { startHarness, uniqueId, type Harness } from '../dev/harness/pipeline';
import {
  awaitFaultRun,
  directConfig,
  requestsAfterFault,
  startEvaluationFaultRun,
  tallyItems,
  waitFor,
  withProxy,
} from './fault-common';
import type { FaultRow, ScenarioContext } from './fault-common';

const CAP = 4;
const DATASET = { merchants: 1, receiptsPerMerchant: 15, seed: 7 };
const RUN_DEADLINE_MS = 4 * 60_000;

interface HarmonizeRun {
  h: Harness;
  runId: string;
  report?: HarmonizeReport;
  runStatus: string;
  makespanMs: number;
  inFlightAtFault: number;
  /** Chroma requests forwarded after the fault ended (the run still used Chroma after it). */
  afterFault: number;
}

async function harmonizeOnce(ctx: ScenarioContext, proxy: FaultProxy | undefined): Promise<HarmonizeRun> {
  const h = await startHarness({
    emulator: { accuracy: 1, latencyMs: 20 },
    env: {
      LLM_MAX_CONCURRENT_CALLS: String(CAP),
      CHROMA_COLLECTION_PREFIX: `${uniqueId('fh')}-`,
      ...(proxy ? { CHROMA_URL: proxy.url } : {}),
    },
    dataset: DATASET,
  });
  // Armed before the run: Chroma goes away right after the run's first request to it.
  if (proxy) await proxy.inject({ kind: 'reset' }, { afterRequests: 1, forMs: ctx.faultMs });
  const afterFault = proxy ? requestsAfterFault(proxy) : () => 0;
  const run = await startEvaluationFaultRun(h, {
    workflow: harmonizeLabels,
    runId: uniqueId('fault-chroma-'),
  });
  let inFlightAtFault = 0;
  if (proxy) {
    inFlightAtFault = await waitFor('the first Chroma request of the harmonizer', async () =>
      proxy.active ? h.emulator.metrics().inFlight : undefined,
    );
  }
  const { report, runStatus } = await awaitFaultRun<HarmonizeReport>('harmonization', run, RUN_DEADLINE_MS);
  const makespanMs = Date.now() - run.started;
  return { h, runId: run.runId, report, runStatus, makespanMs, inFlightAtFault, afterFault: afterFault() };
}

async function closeRun(ctx: ScenarioContext, run: HarmonizeRun | undefined): Promise<void> {
  if (!run) return;
  await run.h.close();
  await createHarmonizationStores(directConfig(ctx.stack, run.h.env))
    .chroma.deleteCollections()
    .catch(() => undefined);
}

export async function chromaDownMidHarmonization(ctx: ScenarioContext): Promise<FaultRow> {
  let clean: HarmonizeRun | undefined;
  let faulted: HarmonizeRun | undefined;
  try {
    clean = await harmonizeOnce(ctx, undefined);
    const cleanRequests = clean.h.emulator.metrics().requests;
    await closeRun(ctx, clean);
    clean = undefined;
    return await withProxy(ctx.stack.chromaUrl, async (proxy) => {
      faulted = await harmonizeOnce(ctx, proxy);
      const { h, runId } = faulted;
      const results = await createStores(directConfig(ctx.stack, h.env)).runs.listResults(runId);
      const words = h.dataset!.receipts.flatMap((r) =>
        r.lines.flatMap((l) => l.words.filter((w) => w.label).map((w) => w.wordId)),
      );
      const m = h.emulator.metrics();
      const stats = proxy.stats();
      return {
        fault: 'Chroma down mid-harmonization',
        ...tallyItems(results, words),
        extraProviderRequests: Math.max(0, m.requests - cleanRequests),
        capHeld: m.inFlightMax <= CAP,
        detail: {
          injected: `every connection to Chroma dropped for ${ctx.faultMs / 1000} s from the run's first Chroma request`,
          runStatus: faulted.runStatus,
          providerRequests: m.requests,
          cleanProviderRequests: cleanRequests,
          inFlightAtFault: faulted.inFlightAtFault,
          cap: CAP,
          inFlightMax: m.inFlightMax,
          proxy: { requests: stats.requests, faulted: stats.faulted.reset, afterFault: faulted.afterFault },
          makespanMs: faulted.makespanMs,
        },
      };
    });
  } finally {
    await closeRun(ctx, clean);
    await closeRun(ctx, faulted);
  }
}
