// `emulator [flags]`: runs the LLM provider emulator in the foreground until SIGINT/SIGTERM.
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '../../src/config';
import { startEmulator } from './server';
import {
  DEFAULT_EMULATOR_SETTINGS,
  EmulatorSettingsError,
  parseSettingsPatch,
  type EmulatorSettings,
} from './settings';

/** Thrown for a bad command line; the message names the flag. Exit code 2. */
export class EmulatorUsageError extends Error {
  override name = 'EmulatorUsageError';
}

/** Numeric flags and the setting each sets. */
const NUMERIC_FLAGS = {
  'max-concurrency': 'maxConcurrency',
  parallel: 'parallel',
  'max-queue': 'maxQueue',
  'prefill-tokens-per-s': 'prefillTokensPerS',
  'decode-tokens-per-s': 'decodeTokensPerS',
  'parallel-speedup': 'parallelSpeedup',
  'loading-for-ms': 'loadingForMs',
  'fault-status': 'faultStatus',
  'fault-rate': 'faultRate',
  rpm: 'rpm',
  'latency-ms': 'latencyMs',
  'jitter-ms': 'jitterMs',
  'error-rate': 'errorRate',
  'malformed-rate': 'malformedRate',
  'timeout-rate': 'timeoutRate',
  'timeout-ms': 'timeoutMs',
  accuracy: 'accuracy',
  'rate-limit-status': 'rateLimitStatus',
  'retry-after-s': 'retryAfterS',
  'batch-complete-after-s': 'batchCompleteAfterS',
  'batch-expire-rate': 'batchExpireRate',
  'batch-partial-rate': 'batchPartialRate',
  seed: 'seed',
  'embedding-dim': 'embeddingDim',
} as const satisfies Record<string, keyof EmulatorSettings>;

const d = DEFAULT_EMULATOR_SETTINGS;
export const EMULATOR_USAGE = `Usage: emulator [flags]   (npm run cli -- emulator [flags])

Runs the LLM provider emulator: Ollama (/api/chat, /api/embed, /api/tags) and OpenAI
(/v1/chat/completions, /v1/embeddings, /v1/files, /v1/batches) on one port, plus
GET /_emulator/metrics, GET|PUT /_emulator/config, POST /_emulator/reset, GET /healthz.

  --port N                    port to listen on (default: $EMULATOR_PORT or 11435; 0 = any free port)
  --host ADDR                 address to bind (default 127.0.0.1)
  --provider-model M          refusing (a hosted API: refuses over --max-concurrency) or queueing
                              (an Ollama: --parallel slots, a FIFO queue, token-based service time)
                              (default ${d.providerModel})
  --max-concurrency N         refusing: requests served at once before 429/503 (default ${d.maxConcurrency})
  --parallel N                queueing: requests served at once (default ${d.parallel})
  --max-queue N               queueing: requests waiting before 503, 0 = unbounded (default ${d.maxQueue})
  --prefill-tokens-per-s N    queueing: prompt tokens/s of one slot alone (default ${d.prefillTokensPerS})
  --decode-tokens-per-s N     queueing: completion tokens/s of one slot alone (default ${d.decodeTokensPerS})
  --parallel-speedup X        queueing: throughput of all busy slots vs one (default ${d.parallelSpeedup})
  --loading-for-ms N          model loading at start: 503 without Retry-After meanwhile (default ${d.loadingForMs})
  --rpm N                     requests per sliding minute, 0 = unlimited (default ${d.rpm})
  --latency-ms N              base latency of chat/embeddings (default ${d.latencyMs})
  --jitter-ms N               seeded jitter, +/- (default ${d.jitterMs})
  --error-rate R              fraction answered 500/502/503 (default ${d.errorRate})
  --fault-status N            status (400..599) of injected status faults (default: off)
  --fault-rate R              fraction answered --fault-status (default ${d.faultRate})
  --malformed-rate R          fraction of chat answers invalid for their schema (default ${d.malformedRate})
  --timeout-rate R            fraction that hang, then lose the socket (default ${d.timeoutRate})
  --timeout-ms N              how long a timed-out request hangs (default ${d.timeoutMs})
  --accuracy R                probability the oracle answers an item correctly (default ${d.accuracy})
  --rate-limit-status 429|503 status of a refused request (default ${d.rateLimitStatus})
  --retry-after-s N           Retry-After of a refused request (default ${d.retryAfterS})
  --batch-complete-after-s N  seconds until a batch completes (default ${d.batchCompleteAfterS})
  --batch-expire-rate R       fraction of batches that expire (default ${d.batchExpireRate})
  --batch-partial-rate R      fraction of an expired batch's requests with output (default ${d.batchPartialRate})
  --seed N                    seed of every random choice (default ${d.seed})
  --embedding-dim N           embedding length (default ${d.embeddingDim})
  --truth-file PATH           truth JSON for the oracle (default: $TRUTH_FILE or $DATA_DIR/truth.json)
  --help                      show this help
`;

export interface EmulatorArgs {
  help: boolean;
  port: number;
  host: string;
  settings: Partial<EmulatorSettings>;
}

/** Parses the command line; `env` supplies defaults (EMULATOR_PORT, TRUTH_FILE, DATA_DIR). */
export function parseEmulatorArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): EmulatorArgs {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        help: { type: 'boolean', short: 'h' },
        port: { type: 'string' },
        host: { type: 'string' },
        'truth-file': { type: 'string' },
        'provider-model': { type: 'string' },
        ...Object.fromEntries(Object.keys(NUMERIC_FLAGS).map((flag) => [flag, { type: 'string' as const }])),
      },
    }));
  } catch (err) {
    throw new EmulatorUsageError((err as Error).message);
  }
  if (values.help === true) return { help: true, port: 0, host: '127.0.0.1', settings: {} };

  let cfg: ReturnType<typeof loadConfig>;
  try {
    cfg = loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) throw new EmulatorUsageError(err.message);
    throw err;
  }

  const settings: Record<string, unknown> = {};
  for (const [flag, key] of Object.entries(NUMERIC_FLAGS)) {
    const raw = values[flag];
    if (typeof raw !== 'string') continue;
    const n = raw.trim() === '' ? Number.NaN : Number(raw);
    if (!Number.isFinite(n))
      throw new EmulatorUsageError(`--${flag}: expected a number, got ${JSON.stringify(raw)}`);
    try {
      Object.assign(settings, parseSettingsPatch({ [key]: n }));
    } catch (err) {
      if (!(err instanceof EmulatorSettingsError)) throw err;
      throw new EmulatorUsageError(
        `--${flag}: ${err.message.replace(/^Invalid emulator settings: \w+: /, '')} (got ${raw})`,
      );
    }
  }
  const providerModel = values['provider-model'];
  if (typeof providerModel === 'string') {
    try {
      Object.assign(settings, parseSettingsPatch({ providerModel }));
    } catch (err) {
      if (!(err instanceof EmulatorSettingsError)) throw err;
      throw new EmulatorUsageError(
        `--provider-model: expected refusing or queueing, got ${JSON.stringify(providerModel)}`,
      );
    }
  }
  const truthFile = values['truth-file'];
  settings.truthFile = typeof truthFile === 'string' && truthFile !== '' ? truthFile : cfg.truthFile;

  let port = cfg.EMULATOR_PORT;
  if (typeof values.port === 'string') {
    port = Number(values.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      throw new EmulatorUsageError(
        `--port: expected an integer in 0..65535, got ${JSON.stringify(values.port)}`,
      );
    }
  }
  const host = typeof values.host === 'string' && values.host !== '' ? values.host : '127.0.0.1';
  return { help: false, port, host, settings: settings as Partial<EmulatorSettings> };
}

/** Runs the emulator in the foreground; resolves after SIGINT/SIGTERM closed it. Bad flags: exit code 2. */
export async function runEmulatorCommand(
  argv: string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<void> {
  let args: EmulatorArgs;
  try {
    args = parseEmulatorArgs(argv, env);
  } catch (err) {
    if (!(err instanceof EmulatorUsageError)) throw err;
    process.stderr.write(`emulator: ${err.message}\nRun with --help for the flags.\n`);
    process.exitCode = 2;
    return;
  }
  if (args.help) {
    process.stdout.write(EMULATOR_USAGE);
    return;
  }
  let emulator: Awaited<ReturnType<typeof startEmulator>>;
  try {
    emulator = await startEmulator({ ...args.settings, port: args.port, host: args.host });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const hint =
      code === 'EADDRINUSE'
        ? ` (port ${args.port} is taken: stop what uses it, or pass --port / set EMULATOR_PORT)`
        : '';
    process.stderr.write(
      `emulator: cannot listen on ${args.host}:${args.port}: ${(err as Error).message}${hint}\n`,
    );
    process.exitCode = 1;
    return;
  }
  process.stdout.write(`emulator listening on ${emulator.url}\n`);
  await new Promise<void>((resolve) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  await emulator.close();
}
