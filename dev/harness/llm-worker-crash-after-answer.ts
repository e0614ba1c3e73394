// An `llm` worker that kills itself (SIGKILL) right after its first label review has its paid answer
// and before Temporal hears the activity completed: the fault "kill -9 between a provider answer
// and the activity's completion", placed exactly. One activity at a time, so no other call is in
// flight when it dies. `tsx dev/harness/llm-worker-crash-after-answer.ts` with the harness env.
import { Worker } from '@temporalio/worker';
import { createLlmQueueActivities } from '../../src/activities';
import type { ReviewLabelIssuesInput } from '../../src/activities/evaluate';
import { loadConfig } from '../../src/config';
import { createHarmonizationStores, createLlmLayer, createStores } from '../../src/deps';
import { connectWorker } from '../../src/temporal';

async function main(): Promise<void> {
  const cfg = loadConfig();
  const stores = createStores(cfg);
  const { llm } = createLlmLayer(cfg, stores.ddb);
  const activities = createLlmQueueActivities({
    llm,
    objects: createHarmonizationStores(cfg, stores).objects,
  });
  const { connection, namespace } = await connectWorker(cfg);
  const worker = await Worker.create({
    connection,
    namespace,
    taskQueue: cfg.TASK_QUEUE_LLM,
    activities: {
      ...activities,
      async reviewLabelIssues(input: ReviewLabelIssuesInput) {
        await activities.reviewLabelIssues(input);
        process.kill(process.pid, 'SIGKILL');
        return new Promise<never>(() => undefined);
      },
    },
    maxConcurrentActivityTaskExecutions: 1,
  });
  console.log('worker running: llm, dies after its first answer');
  await worker.run();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
