// Orchestration overhead alone: receipts/s through the merchant -> batch child workflows (receipts
// inline in their batch) with --skip-llm-review. `npx tsx bench/overhead.ts [receipts...]`
import { DefaultLogger, Runtime } from '@temporalio/worker';
import type { EvaluationReport } from '../src/activities/evaluate';
import { startHarness, uniqueId } from '../dev/harness/pipeline';
import { evaluateLabels } from '../src/workflows';

export async function measureOverhead(
  receipts: number,
): Promise<{ receipts: number; makespanMs: number; receiptsPerSecond: number }> {
  const h = await startHarness({
    queues: ['pipeline'],
    dataset: { merchants: 5, receiptsPerMerchant: Math.ceil(receipts / 5), seed: 7 },
  });
  try {
    const runId = uniqueId('overhead-');
    const r = (await h.client.workflow.execute(evaluateLabels, {
      taskQueue: h.cfg.TASK_QUEUE_PIPELINE,
      workflowId: runId,
      args: [{ runId, skipLlmReview: true }],
    })) as EvaluationReport;
    return {
      receipts: r.succeeded,
      makespanMs: r.makespanMs,
      receiptsPerSecond: Math.round((r.succeeded / r.makespanMs) * 10000) / 10,
    };
  } finally {
    await h.close();
  }
}

if (require.main === module) {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const sizes = process.argv.slice(2).map(Number);
  void (async () => {
    for (const n of sizes.length ? sizes : [100]) console.log(JSON.stringify(await measureOverhead(n)));
    process.exit(0);
  })();
}
