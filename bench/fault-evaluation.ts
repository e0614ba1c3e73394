// Fault scenario: DynamoDB throttling bursts (every request, then half of them) during a label
// evaluation, with all of the workers' DynamoDB traffic (stores, limiter, LLM cache) behind the proxy.
import type { EvaluationReport } from '../src/activities/evaluate';
import { createStores } from '../src/deps';
import { dynamoThrottling } from '../dev/stack/fault-proxy';
import { startHarness, uniqueId } from '../dev/harness/pipeline';
import {
  awaitFaultRun,
  directConfig,
  startEvaluationFaultRun,
  tallyItems,
  waitFor,
  withProxy,
} from './fault-common';
import type { FaultRow, ScenarioContext } from './fault-common';
import { evaluateLabels } from '../src/workflows';

const CAP = 4;
const REVIEW_CHUNK_SIZE = 8;
const DATASET = { merchants: 2, receiptsPerMerchant: 10, seed: 21 };
const RUN_DEADLINE_MS = 4 * 60_000;

export async function dynamoThrottlingDuringEvaluation(ctx: ScenarioContext): Promise<FaultRow> {
  return withProxy(ctx.stack.dynamodbEndpoint, async (proxy) => {
    const h = await startHarness({
      emulator: { latencyMs: 150, jitterMs: 20, accuracy: 1 },
      env: { LLM_MAX_CONCURRENT_CALLS: String(CAP), DYNAMODB_ENDPOINT: proxy.url },
      dataset: DATASET,
    });
    try {
      const direct = createStores(directConfig(ctx.stack, h.env));
      const run = await startEvaluationFaultRun(h, {
        workflow: evaluateLabels,
        runId: uniqueId('fault-ddb-'),
        reviewChunkSize: REVIEW_CHUNK_SIZE,
      });
      const { runId } = run;
      // Mid-run: some receipts done, LLM calls in flight.
      const inFlightAtFault = await waitFor('a partly done evaluation with LLM calls in flight', async () => {
        const done = (await direct.runs.listResults(runId)).length;
        const inFlight = h.emulator.metrics().inFlight;
        return done >= 2 && inFlight >= 1 ? inFlight : undefined;
      });
      const burst = Math.round(ctx.faultMs / 2);
      await proxy.inject(dynamoThrottling(), { forMs: burst });
      await new Promise((r) => setTimeout(r, burst + 1000));
      await proxy.inject(dynamoThrottling('ThrottlingException'), { forMs: burst, rate: 0.5 });
      const { runStatus } = await awaitFaultRun<EvaluationReport>('evaluation', run, RUN_DEADLINE_MS);
      const makespanMs = Date.now() - run.started;
      const results = await direct.runs.listResults(runId);
      const m = h.emulator.metrics();
      // A clean run makes one provider request per chunk of issues (accuracy 1: no repairs, no 429s).
      const clean = results.reduce(
        (n, r) => n + Math.ceil(((r.detail as { issues?: number }).issues ?? 0) / REVIEW_CHUNK_SIZE),
        0,
      );
      const stats = proxy.stats();
      return {
        fault: 'DynamoDB throttling bursts during evaluation',
        ...tallyItems(
          results,
          h.dataset!.receipts.map((r) => r.receiptId),
        ),
        extraProviderRequests: Math.max(0, m.requests - clean),
        capHeld: m.inFlightMax <= CAP,
        detail: {
          injected: `ProvisionedThroughputExceeded on every DynamoDB request for ${burst / 1000} s, then ThrottlingException on half for ${burst / 1000} s, from the 2nd receipt done`,
          runStatus,
          providerRequests: m.requests,
          cleanProviderRequests: clean,
          inFlightAtFault,
          cap: CAP,
          inFlightMax: m.inFlightMax,
          proxy: { requests: stats.requests, faulted: stats.faulted.fail },
          makespanMs,
        },
      };
    } finally {
      await h.close();
    }
  });
}
