// An `llm` worker that kills itself (SIGKILL) right after its first structured LLM call has its paid
// answer, before its activity can use it or Temporal hears the activity completed: the fault
// "kill -9 between a provider answer and the activity's completion", placed exactly. One activity
// at a time, so no other call is in flight when it dies.
// `tsx dev/harness/llm-worker-crash-after-answer.ts` with the harness env.
import { Worker } from '@temporalio/worker';
import { createLlmQueueActivities } from '../../src/activities';
import { loadConfig } from '../../src/config';
import { createHarmonizationStores, createLlmLayer, createStores } from '../../src/deps';
import type { LlmClient } from '../../src/llm/llm-client';
import { connectWorker } from '../../src/temporal';

/** The client, except that its first structured call's answer ends the process. */
function dyingAfterFirstAnswer(llm: LlmClient): LlmClient {
  return new Proxy(llm, {
    get(target, prop) {
      if (prop === 'structured')
        return async (input: Parameters<LlmClient['structured']>[0]) => {
          await target.structured(input);
          process.kill(process.pid, 'SIGKILL');
          return new Promise<never>(() => undefined);
        };
      const value = Reflect.get(target, prop, target) as unknown;
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

async function main(): Promise<void> {
  const cfg = loadConfig();
  const stores = createStores(cfg);
  const { llm } = createLlmLayer(cfg, stores.ddb);
  const { connection, namespace } = await connectWorker(cfg);
  const worker = await Worker.create({
    connection,
    namespace,
    taskQueue: cfg.TASK_QUEUE_LLM,
    activities: createLlmQueueActivities({
      llm: dyingAfterFirstAnswer(llm),
      receipts: stores.receipts,
      runs: stores.runs,
      objects: createHarmonizationStores(cfg, stores).objects,
    }),
    maxConcurrentActivityTaskExecutions: 1,
  });
  console.log('worker running: llm, dies after its first answer');
  await worker.run();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
