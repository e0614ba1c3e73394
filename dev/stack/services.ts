// What each service of the embedded stack is: how it starts, where it listens, how its health is probed.
import fs from 'node:fs';
import path from 'node:path';
import { envSchema, type AppConfig, type Env } from '../../src/config';
import { probeAnyHttp, probeDynamo, probeHttp, probeTemporal, type Health } from './health';
import { ollamaDataDir, ollamaServerEnv, ollamaUrl, pointsAtStackOllama } from './ollama';
import type { LaunchSpec } from './process';
import { ollamaInstall, requireTool } from './tools';

/** Services that run as processes (or are external); `ollama` only when asked for (ServiceDef.optional). */
export const SERVICE_NAMES = ['temporal', 'chroma', 'dynamodb', 's3', 'emulator', 'ollama'] as const;
export type ServiceName = (typeof SERVICE_NAMES)[number];

/** Entries of `stack status`: the services plus the Temporal Web UI (served by the temporal process). */
export const STATUS_NAMES = [
  'temporal',
  'temporalUi',
  'chroma',
  'dynamodb',
  's3',
  'emulator',
  'ollama',
] as const;
export type StatusName = (typeof STATUS_NAMES)[number];

export function isServiceName(name: string): name is ServiceName {
  return (SERVICE_NAMES as readonly string[]).includes(name);
}

/** Root of the repository (dev/stack/ is two levels below it). */
export const PROJECT_ROOT = path.resolve(__dirname, '..', '..');

/** Entry point of the LLM provider emulator (written separately; the stack skips it while absent). */
export const EMULATOR_ENTRY = path.join(PROJECT_ROOT, 'dev', 'emulator', 'main.ts');

/**
 * Custom search attributes the pipelines set, so the Temporal UI can filter runs.
 * `RunId` is NOT usable: it is a Temporal system attribute and the server rejects workflows that set it
 * ("RunId attribute can't be set in SearchAttributes"), hence `PipelineRunId`.
 */
export const TEMPORAL_SEARCH_ATTRIBUTES = {
  PipelineRunId: 'Keyword',
  Pipeline: 'Keyword',
  Merchant: 'Keyword',
  RunStatus: 'Keyword',
} as const;

/**
 * Dynamic config of the embedded dev server (keys from temporalio/temporal common/dynamicconfig/constants.go,
 * present in Server 1.32; values are JSON).
 */
export const TEMPORAL_DYNAMIC_CONFIG: Readonly<Record<string, string>> = {
  // Priority-aware matcher; required for priority keys on tasks.
  'matching.useNewMatcher': 'true',
  // Fairness keys/weights (e.g. per merchant) on the task queues; implies the new matcher.
  'matching.enableFairness': 'true',
  // One partition per task queue: priority, fairness and maxTaskQueueActivitiesPerSecond are enforced
  // per partition, so on a one-machine server a single partition makes them exact instead of approximate.
  'matching.numTaskqueueReadPartitions': '1',
  'matching.numTaskqueueWritePartitions': '1',
  // Search attributes added at run time (see temporal-setup.ts) are visible to the very next call.
  'system.forceSearchAttributesCacheRefreshOnRead': 'true',
};

/**
 * The dev server's SQLite file in write-ahead-log mode, synced at checkpoints only: a commit is an
 * append to the log instead of a rollback journal written, synced and deleted (three syncs a commit,
 * each milliseconds on a VM disk, while every other write of the server waits). A crash or kill of the
 * server loses nothing committed (the log is replayed at start); only an OS crash or power loss can
 * drop the last commits, never corrupt the file.
 */
export const TEMPORAL_SQLITE_PRAGMAS: readonly string[] = ['journal_mode=wal', 'synchronous=normal'];

/** One port a service listens on, with the variable that moves it. */
export interface ServicePort {
  port: number;
  envVar: keyof Env;
}

/** Everything the stack needs to know about one service under a given config. */
export interface ServiceDef {
  name: ServiceName;
  /** URL clients use (`host:port` for Temporal gRPC). */
  url: string;
  /** True when configured as external: never started, only probed. */
  external: boolean;
  /** Variable that names the external endpoint (or made the service external). */
  externalVar: string;
  /** Ports of the embedded process; the first is the one `url` names. */
  ports: ServicePort[];
  /** Set when the embedded service cannot run because its code is not there (status `not installed`). */
  notInstalled?: string;
  /**
   * Started only when asked for (`stack up --ollama`, `--only`), never by a plain `stack up`; asked for
   * but not installed, it is an error rather than a skip.
   */
  optional?: boolean;
  /** Command line of the embedded process; throws ToolMissingError when its binary is not installed. */
  launch(): LaunchSpec;
  /** Directories the process writes its data to (created before start). */
  dataDirs: string[];
  probe(): Promise<Health>;
}

/** The services under `cfg`. */
export function describeServices(
  cfg: AppConfig,
  env: NodeJS.ProcessEnv = process.env,
): Record<ServiceName, ServiceDef> {
  const nodeEnv = { ...env, ...configEnv(cfg) };
  const tsxNode: TsxLauncher = (entry, args) => ({
    command: process.execPath,
    args: ['--import', 'tsx', entry, ...args],
    // `--import tsx` resolves from the working directory: the project's node_modules.
    cwd: PROJECT_ROOT,
    env: nodeEnv,
  });
  return {
    temporal: temporalService(cfg, env),
    chroma: chromaService(cfg, env),
    dynamodb: dynamodbService(cfg, tsxNode),
    s3: s3Service(cfg, tsxNode),
    emulator: emulatorService(cfg, tsxNode),
    ollama: ollamaService(cfg, env),
  };
}

/** A launch of one of the project's TypeScript entry points under node with tsx. */
type TsxLauncher = (entry: string, args: string[]) => LaunchSpec;

/** The Temporal dev server (with its Web UI), on a SQLite file in the data dir. */
function temporalService(cfg: AppConfig, env: NodeJS.ProcessEnv): ServiceDef {
  const temporalDb = path.join(cfg.dataDir, 'temporal.db');
  return {
    name: 'temporal',
    url: cfg.temporalAddress,
    external: cfg.external.temporal,
    externalVar: 'TEMPORAL_ADDRESS',
    ports: [
      { port: cfg.TEMPORAL_PORT, envVar: 'TEMPORAL_PORT' },
      { port: cfg.TEMPORAL_UI_PORT, envVar: 'TEMPORAL_UI_PORT' },
    ],
    dataDirs: [cfg.dataDir],
    launch: () => ({
      command: requireTool(cfg, 'temporal', env),
      args: [
        'server',
        'start-dev',
        '--ip',
        '127.0.0.1',
        '--port',
        String(cfg.TEMPORAL_PORT),
        '--ui-port',
        String(cfg.TEMPORAL_UI_PORT),
        '--db-filename',
        temporalDb,
        ...TEMPORAL_SQLITE_PRAGMAS.flatMap((p) => ['--sqlite-pragma', p]),
        '--namespace',
        cfg.TEMPORAL_NAMESPACE,
        '--log-level',
        'warn',
        ...Object.entries(TEMPORAL_SEARCH_ATTRIBUTES).flatMap(([k, t]) => [
          '--search-attribute',
          `${k}=${t}`,
        ]),
        ...Object.entries(TEMPORAL_DYNAMIC_CONFIG).flatMap(([k, v]) => [
          '--dynamic-config-value',
          `${k}=${v}`,
        ]),
      ],
      cwd: cfg.dataDir,
      env,
    }),
    probe: async () => {
      const grpc = await probeTemporal(cfg.temporalAddress, cfg.TEMPORAL_NAMESPACE);
      if (!grpc.ok || cfg.external.temporal) return grpc;
      // The embedded process also serves the Web UI; `up` is done only when both answer.
      return probeHttp(temporalUiUrl(cfg) ?? '');
    },
  };
}

/** Chroma, persisting under the data dir. */
function chromaService(cfg: AppConfig, env: NodeJS.ProcessEnv): ServiceDef {
  const chromaDir = path.join(cfg.dataDir, 'chroma');
  return {
    name: 'chroma',
    url: cfg.chromaUrl,
    external: cfg.external.chroma,
    externalVar: 'CHROMA_URL',
    ports: [{ port: cfg.CHROMA_PORT, envVar: 'CHROMA_PORT' }],
    dataDirs: [chromaDir],
    launch: () => ({
      command: requireTool(cfg, 'chroma', env),
      args: ['run', '--path', chromaDir, '--host', '127.0.0.1', '--port', String(cfg.CHROMA_PORT)],
      cwd: cfg.dataDir,
      env: { ...env, ANONYMIZED_TELEMETRY: 'False' },
    }),
    probe: () => probeHttp(`${trimSlash(cfg.chromaUrl)}/api/v2/heartbeat`),
  };
}

/** An AWS service stood in for by a Node server of ours on loopback, its data in `dataDir/<name>`. */
function localAwsService(
  cfg: AppConfig,
  tsxNode: TsxLauncher,
  o: {
    name: 'dynamodb' | 's3';
    url: string;
    external: boolean;
    externalVar: string;
    port: number;
    main: string;
    /** The server's flag naming its data directory; none: it keeps its data in memory. */
    dirFlag?: string;
    probe: ServiceDef['probe'];
  },
): ServiceDef {
  const dir = path.join(cfg.dataDir, o.name);
  const args = ['--port', String(o.port), '--host', '127.0.0.1', ...(o.dirFlag ? [o.dirFlag, dir] : [])];
  return {
    name: o.name,
    url: o.url,
    external: o.external,
    externalVar: o.externalVar,
    ports: [{ port: o.port, envVar: o.name === 'dynamodb' ? 'DYNAMODB_PORT' : 'S3_PORT' }],
    dataDirs: [dir],
    launch: () => tsxNode(path.join(__dirname, o.main), args),
    probe: o.probe,
  };
}

/** dynalite standing in for DynamoDB. */
function dynamodbService(cfg: AppConfig, tsxNode: TsxLauncher): ServiceDef {
  return localAwsService(cfg, tsxNode, {
    name: 'dynamodb',
    url: cfg.dynamodbEndpoint,
    external: cfg.external.dynamodb,
    externalVar: 'DYNAMODB_ENDPOINT',
    port: cfg.DYNAMODB_PORT,
    main: 'dynalite-main.ts',
    dirFlag: cfg.STACK_DYNAMODB_IN_MEMORY ? undefined : '--path',
    probe: () => probeDynamo(cfg.dynamodbEndpoint, cfg.AWS_REGION, cfg.external.dynamodb),
  });
}

/** s3rver standing in for S3. */
function s3Service(cfg: AppConfig, tsxNode: TsxLauncher): ServiceDef {
  return localAwsService(cfg, tsxNode, {
    name: 's3',
    url: cfg.s3Endpoint,
    external: cfg.external.s3,
    externalVar: 'S3_ENDPOINT',
    port: cfg.S3_PORT,
    main: 's3rver-main.ts',
    dirFlag: '--directory',
    // Any HTTP answer counts: S3 answers an anonymous GET / with 403 (AWS) or a bucket list (s3rver).
    probe: () => probeHttp(`${trimSlash(cfg.s3Endpoint)}/`, (status) => status > 0 && status < 500),
  });
}

/** The LLM provider emulator, or the real provider it stands in for. */
function emulatorService(cfg: AppConfig, tsxNode: TsxLauncher): ServiceDef {
  const llmVar = cfg.OLLAMA_HOST ? 'OLLAMA_HOST' : cfg.OPENAI_BASE_URL ? 'OPENAI_BASE_URL' : 'OPENAI_API_KEY';
  // OLLAMA_HOST naming the stack's own Ollama server does not replace the emulator: the Batch API of the
  // embedding pipeline still comes from it.
  const externalLlm =
    cfg.external.llm && !(pointsAtStackOllama(cfg) && !cfg.OPENAI_API_KEY && !cfg.OPENAI_BASE_URL);
  return {
    name: 'emulator',
    url: externalLlm ? cfg.llmBaseUrl : cfg.emulatorUrl,
    external: externalLlm,
    externalVar: llmVar,
    ports: [{ port: cfg.EMULATOR_PORT, envVar: 'EMULATOR_PORT' }],
    dataDirs: [],
    ...(fs.existsSync(EMULATOR_ENTRY)
      ? {}
      : { notInstalled: `${path.relative(PROJECT_ROOT, EMULATOR_ENTRY)} does not exist yet` }),
    launch: () => tsxNode(EMULATOR_ENTRY, ['--port', String(cfg.EMULATOR_PORT), '--host', '127.0.0.1']),
    probe: () => probeLlm(cfg, externalLlm),
  };
}

/** The stack's own (optional) Ollama server. */
function ollamaService(cfg: AppConfig, env: NodeJS.ProcessEnv): ServiceDef {
  const install = ollamaInstall(cfg, env);
  return {
    name: 'ollama',
    url: ollamaUrl(cfg),
    // Never external: an OLLAMA_HOST of another server stands in for the emulator (above), not for this.
    external: false,
    externalVar: 'OLLAMA_HOST',
    optional: true,
    ports: [{ port: cfg.OLLAMA_PORT, envVar: 'OLLAMA_PORT' }],
    dataDirs: [path.join(ollamaDataDir(cfg), 'models')],
    ...(install.missing ? { notInstalled: install.missing } : {}),
    launch: () => ({
      command: install.bin,
      args: ['serve'],
      cwd: ollamaDataDir(cfg),
      env: ollamaServerEnv(cfg, env),
    }),
    probe: () => probeHttp(`${ollamaUrl(cfg)}/api/version`),
  };
}

/** URL of the Temporal Web UI, or null for an external Temporal without TEMPORAL_UI_URL. */
export function temporalUiUrl(cfg: AppConfig): string | null {
  if (cfg.external.temporal) return cfg.TEMPORAL_UI_URL ?? null;
  return `http://127.0.0.1:${cfg.TEMPORAL_UI_PORT}`;
}

/** Emulator or real provider: an endpoint that costs nothing (model list). */
function probeLlm(cfg: AppConfig, external: boolean): Promise<Health> {
  if (!external) {
    return probeAnyHttp([`${cfg.emulatorUrl}/healthz`, `${cfg.emulatorUrl}/api/tags`]);
  }
  if (cfg.llmProvider === 'ollama') return probeHttp(`${trimSlash(cfg.llmBaseUrl)}/api/tags`);
  const headers: Record<string, string> = cfg.OPENAI_API_KEY
    ? { authorization: `Bearer ${cfg.OPENAI_API_KEY}` }
    : {};
  return probeHttp(`${trimSlash(cfg.llmBaseUrl)}/models`, undefined, headers);
}

/**
 * The config as environment variables for child processes (absolute DATA_DIR/TOOLS_DIR), so a child
 * that calls loadConfig() sees the same settings as the parent, even when the parent's config came from
 * an env object other than process.env (tests).
 */
export function configEnv(cfg: AppConfig): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of Object.keys(envSchema.shape) as (keyof Env)[]) {
    const value = cfg[key];
    if (value !== undefined) out[key] = String(value);
  }
  out.DATA_DIR = cfg.dataDir;
  out.TOOLS_DIR = cfg.toolsDir;
  return out;
}

function trimSlash(url: string): string {
  return url.replace(/\/+$/, '');
}
