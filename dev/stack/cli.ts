// `stack up [--fresh] [--ollama] [--only a,b] | down | status [--json]`: the command-line face of the embedded stack.
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '../../src/config';
import { StackError } from './errors';
import { ollamaProviderEnv } from './ollama';
import { SERVICE_NAMES, STATUS_NAMES, isServiceName, type ServiceName } from './services';
import { stackDown, stackStatus, stackUp, type StackStatus, type UpAction } from './stack';

/** Where the command writes; tests pass their own to capture output. */
export interface CliIo {
  out(line: string): void;
  err(line: string): void;
}

const consoleIo: CliIo = {
  out: (line) => console.log(line),
  err: (line) => console.error(line),
};

const USAGE = `usage: stack up [--fresh] [--ollama] [--only ${SERVICE_NAMES.join(',')}] | stack down | stack status [--json]`;

/**
 * Runs one stack command; `argv` may start with `stack`. Returns the exit code: 0 ok, 1 failure
 * (with a message on stderr that says what to do).
 */
export async function runStackCommand(
  argv: string[],
  env: NodeJS.ProcessEnv = process.env,
  io: CliIo = consoleIo,
): Promise<number> {
  const args = argv[0] === 'stack' ? argv.slice(1) : argv;
  const [command, ...rest] = args;
  try {
    switch (command) {
      case 'up':
        return await up(rest, env, io);
      case 'down':
        return await down(rest, env, io);
      case 'status':
        return await status(rest, env, io);
      default:
        io.err(command ? `unknown stack command "${command}"\n${USAGE}` : USAGE);
        return 1;
    }
  } catch (err) {
    if (err instanceof StackError || err instanceof ConfigError) {
      io.err(`stack ${command ?? ''}: ${err.message}`);
    } else {
      io.err(
        `stack ${command ?? ''} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`,
      );
    }
    return 1;
  }
}

async function up(rest: string[], env: NodeJS.ProcessEnv, io: CliIo): Promise<number> {
  const { values } = parseArgs({
    args: rest,
    options: {
      fresh: { type: 'boolean', default: false },
      // Also the real LLM server (optional: installed by `npm run tools -- --ollama`).
      ollama: { type: 'boolean', default: false },
      only: { type: 'string' },
    },
  });
  const only = parseOnly(values.only);
  if (only instanceof Error) {
    io.err(only.message);
    return 1;
  }
  const cfg = loadConfig(env);
  const started = Date.now();
  const result = await stackUp(cfg, {
    fresh: values.fresh,
    ollama: values.ollama,
    ...(only ? { only } : {}),
    env,
  });
  io.out(formatTable(result.status, result.actions));
  for (const note of result.notes) io.out(`note: ${note}`);
  io.out(`stack up in ${((Date.now() - started) / 1000).toFixed(1)} s (data: ${cfg.dataDir})`);
  if (result.status.temporalUi.url) io.out(`Temporal UI: ${result.status.temporalUi.url}`);
  if (result.actions.ollama) {
    const vars = Object.entries(ollamaProviderEnv(cfg)).map(([k, v]) => `${k}=${v}`);
    io.out(`Pipelines on the real model: ${vars.join(' ')} npm run worker`);
  }
  return 0;
}

async function down(rest: string[], env: NodeJS.ProcessEnv, io: CliIo): Promise<number> {
  parseArgs({ args: rest, options: {} });
  const cfg = loadConfig(env);
  const { stopped } = await stackDown(cfg);
  io.out(stopped.length ? `stopped: ${stopped.join(', ')}` : 'nothing of ours was running');
  return 0;
}

async function status(rest: string[], env: NodeJS.ProcessEnv, io: CliIo): Promise<number> {
  const { values } = parseArgs({ args: rest, options: { json: { type: 'boolean', default: false } } });
  const cfg = loadConfig(env);
  const st = await stackStatus(cfg, env);
  io.out(values.json ? JSON.stringify(st) : formatTable(st));
  return 0;
}

function parseOnly(value: string | undefined): ServiceName[] | undefined | Error {
  if (!value) return undefined;
  const names = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const bad = names.filter((n) => !isServiceName(n));
  if (bad.length)
    return new Error(`--only: unknown service ${bad.join(', ')} (known: ${SERVICE_NAMES.join(', ')})`);
  return names.filter(isServiceName);
}

/** A short aligned table: service, state, pid, url (and what `up` did, when given); details below it. */
export function formatTable(st: StackStatus, actions?: Partial<Record<ServiceName, UpAction>>): string {
  const header = ['service', 'state', 'pid', 'url', ...(actions ? ['up'] : [])];
  const rows = STATUS_NAMES.map((name) => {
    const s = st[name];
    const action = name === 'temporalUi' ? actions?.temporal : actions?.[name];
    return [
      name,
      s.state,
      s.pid === null ? '-' : String(s.pid),
      s.url ?? '-',
      ...(actions ? [action ?? '-'] : []),
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  const details = STATUS_NAMES.flatMap((name) => {
    const detail = st[name].detail;
    return detail ? [`  ${name}: ${detail}`] : [];
  });
  return [line(header), ...rows.map(line), ...details].join('\n');
}

if (require.main === module) {
  void runStackCommand(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
