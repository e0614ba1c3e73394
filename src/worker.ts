// Starts the `pipeline` worker (workflows + I/O activities) and/or the `llm` worker (LLM calls
// only, whose slots and shared permits are the global cap). `npm run worker -- --queues pipeline,llm`
import { DefaultLogger, Runtime, Worker, type WorkerOptions } from '@temporalio/worker';
import { type AppConfig, ConfigError, loadConfig } from './config';
import { createLlmQueueActivities, createPipelineActivities } from './activities';
import { ProviderBreaker } from './llm/breaker';
import {
  createBatchModeDeps,
  createEmbeddingDeps,
  createHarmonizationStores,
  createLlmLayer,
  createStores,
} from './deps';
import { connectWorker } from './temporal';
import { createS3Client } from './stores/clients';
import { type GlobalLimiter, LimiterCapMismatchError } from './llm/limiter';

export type QueueName = 'pipeline' | 'llm';

export interface StartWorkersOptions {
  queues: QueueName[];
  /** Prebuilt workflow bundle (tests share one to save the bundling time). */
  workflowBundle?: WorkerOptions['workflowBundle'];
}

export interface RunningWorkers {
  workers: Worker[];
  /** Resolves when every worker has stopped. */
  run: Promise<void>;
  shutdown(): Promise<void>;
}

export async function createWorkers(cfg: AppConfig, opts: StartWorkersOptions): Promise<Worker[]> {
  const stores = createStores(cfg);
  // Checked before connecting: a worker refused for its cap leaves nothing open behind it.
  const layer = opts.queues.includes('llm') ? createLlmLayer(cfg, stores.ddb) : undefined;
  if (layer) await checkLimiterCap(layer.limiter, cfg);
  const { connection, namespace } = await connectWorker(cfg);
  const harmonization = createHarmonizationStores(cfg, stores);
  const workers: Worker[] = [];
  if (opts.queues.includes('pipeline')) {
    const embedding = createEmbeddingDeps(cfg, stores, harmonization);
    workers.push(
      await Worker.create({
        connection,
        namespace,
        taskQueue: cfg.TASK_QUEUE_PIPELINE,
        ...(opts.workflowBundle
          ? { workflowBundle: opts.workflowBundle }
          : { workflowsPath: require.resolve('./workflows') }),
        activities: createPipelineActivities({
          receipts: stores.receipts,
          runs: stores.runs,
          truthFile: cfg.truthFile,
          ...harmonization,
          embedding,
          batchMode: createBatchModeDeps(cfg, stores, embedding),
          s3: createS3Client(cfg),
          s3Bucket: cfg.S3_BUCKET,
        }),
        maxConcurrentActivityTaskExecutions: cfg.PIPELINE_MAX_CONCURRENT_ACTIVITIES,
        ...(cfg.PIPELINE_STICKY_QUEUE_TIMEOUT_MS
          ? { stickyQueueScheduleToStartTimeout: cfg.PIPELINE_STICKY_QUEUE_TIMEOUT_MS }
          : {}),
        shutdownGraceTime: '10 seconds',
      }),
    );
  }
  if (layer) {
    if (cfg.METRICS_PORT) layer.metrics.serve(cfg.METRICS_PORT);
    workers.push(
      await Worker.create({
        connection,
        namespace,
        taskQueue: cfg.TASK_QUEUE_LLM,
        activities: createLlmQueueActivities({
          llm: layer.llm,
          receipts: stores.receipts,
          runs: stores.runs,
          objects: harmonization.objects,
          // A run's breaker opened by any llm process stops its calls in every one (DynamoDB).
          breaker: new ProviderBreaker({ shared: stores.runs }),
        }),
        // The shared permits hold the cap across processes; the slots beyond it are calls waiting
        // (heartbeating, in task-queue order) for the next free permit, so none waits on a poll.
        maxConcurrentActivityTaskExecutions:
          cfg.LLM_MAX_CONCURRENT_CALLS + (cfg.LLM_WORKER_WAITING_CALLS ?? cfg.LLM_MAX_CONCURRENT_CALLS),
        ...(cfg.LLM_MAX_CALLS_PER_SECOND
          ? { maxTaskQueueActivitiesPerSecond: cfg.LLM_MAX_CALLS_PER_SECOND }
          : {}),
        shutdownGraceTime: '10 seconds',
      }),
    );
  }
  return workers;
}

/**
 * Refuses to start an llm worker whose cap differs from the shared limiter's, or, with
 * LLM_LIMITER_RESET=true, makes its cap the shared one (the deliberate cap change).
 */
async function checkLimiterCap(limiter: GlobalLimiter, cfg: AppConfig): Promise<void> {
  try {
    if (cfg.LLM_LIMITER_RESET) await limiter.resetState();
    else await limiter.checkCap();
  } catch (err) {
    if (err instanceof LimiterCapMismatchError) throw new ConfigError(err.message);
    // No table yet (provisioned later): the check happens at the first call instead.
    if ((err as Error).name !== 'ResourceNotFoundException') throw err;
  }
}

export async function startWorkers(cfg: AppConfig, opts: StartWorkersOptions): Promise<RunningWorkers> {
  const workers = await createWorkers(cfg, opts);
  const run = Promise.all(workers.map((w) => w.run())).then(() => undefined);
  return {
    workers,
    run,
    async shutdown() {
      for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
      await run;
    },
  };
}

export function parseQueues(argv: string[]): QueueName[] {
  const i = argv.indexOf('--queues');
  const raw = i >= 0 ? argv[i + 1] : 'pipeline,llm';
  const queues = (raw ?? '').split(',').filter(Boolean);
  for (const q of queues) {
    if (q !== 'pipeline' && q !== 'llm')
      throw new ConfigError(`--queues takes pipeline and/or llm, got "${q}"`);
  }
  return queues as QueueName[];
}

async function main(): Promise<void> {
  const cfg = loadConfig();
  const queues = parseQueues(process.argv.slice(2));
  Runtime.install({
    logger: new DefaultLogger(cfg.LOG_LEVEL),
    // Temporal's own runtime metrics next to ours, on the following port.
    ...(cfg.METRICS_PORT
      ? {
          telemetryOptions: { metrics: { prometheus: { bindAddress: `127.0.0.1:${cfg.METRICS_PORT + 1}` } } },
        }
      : {}),
  });
  const running = await startWorkers(cfg, {
    queues,
    ...(cfg.WORKFLOW_BUNDLE_PATH ? { workflowBundle: { codePath: cfg.WORKFLOW_BUNDLE_PATH } } : {}),
  });
  console.log(
    `worker running: queues=${queues.join(',')} temporal=${cfg.temporalAddress} llm=${cfg.llmProvider}@${cfg.external.llm ? 'external' : 'emulator'} cap=${cfg.LLM_MAX_CONCURRENT_CALLS}`,
  );
  // The SDK's Runtime shuts workers down gracefully on SIGINT/SIGTERM.
  await running.run;
  console.log('worker stopped');
}

if (require.main === module) {
  main().catch((err) => {
    console.error(err instanceof ConfigError ? err.message : err);
    process.exit(1);
  });
}
