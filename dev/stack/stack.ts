// stack up / down / status: starts, reuses, stops and reports the embedded services.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { AppConfig } from '../../src/config';
import { provision } from '../../src/stores/provision';
import {
  ExternalServiceError,
  PortInUseError,
  ServiceNotInstalledError,
  ServiceStartError,
  StackUpError,
  UnsafeDataDirError,
} from './errors';
import { probeHttp, waitForHealthy, type Health } from './health';
import { lockFile, withStackLock } from './lock';
import { ensureStackModel, pointsAtStackOllama } from './ollama';
import {
  isPortFree,
  isProcessAlive,
  listPidRecords,
  logFile,
  procStartTicks,
  readPidRecord,
  removePidRecord,
  spawnDetached,
  stopRecordedProcess,
  tailLog,
  writePidRecord,
  type PidRecord,
} from './process';
import {
  PROJECT_ROOT,
  SERVICE_NAMES,
  STATUS_NAMES,
  describeServices,
  temporalUiUrl,
  type ServiceDef,
  type ServiceName,
  type StatusName,
} from './services';
import { ensureSearchAttributes } from './temporal-setup';

/** State of one entry of `stack status`. */
export type ServiceState = 'running' | 'stopped' | 'external' | 'unhealthy' | 'not installed';

export interface ServiceStatus {
  /** Where clients connect (`host:port` for Temporal gRPC); null for an external Temporal's unknown UI. */
  url: string | null;
  /** Pid of the process we started (the Temporal UI shares Temporal's); null when none. */
  pid: number | null;
  state: ServiceState;
  /** Why the state is not `running`/`external`, when there is something useful to say. */
  detail?: string;
}

export type StackStatus = Record<StatusName, ServiceStatus>;

export interface StackUpOptions {
  /** Stop every service of ours and wipe DATA_DIR before starting. @default false */
  fresh?: boolean;
  /** Bring up only these services (optional ones included when named). @default every non-optional service */
  only?: ServiceName[];
  /**
   * Also start the optional `ollama` service (a real LLM server), register its model and load it.
   * @default false
   */
  ollama?: boolean;
  /** Environment handed to the started processes. @default process.env */
  env?: NodeJS.ProcessEnv;
}

/** What `stackUp` did with each service it handled. */
export type UpAction = 'started' | 'reused' | 'external' | 'skipped';

export interface StackUpResult {
  actions: Partial<Record<ServiceName, UpAction>>;
  /** Notes worth showing (skipped services, a search attribute that could not be registered...). */
  notes: string[];
  status: StackStatus;
}

/** How long a live but not (yet) healthy process of ours gets before it is restarted. */
const UNHEALTHY_GRACE_MS = 10_000;

/**
 * Brings the selected services up: reuses healthy ones we started, probes external ones, starts the
 * rest concurrently and waits for their health checks; then registers Temporal search attributes and
 * provisions the DynamoDB table and S3 bucket.
 */
export async function stackUp(cfg: AppConfig, opts: StackUpOptions = {}): Promise<StackUpResult> {
  const defs = describeServices(cfg, opts.env);
  const selected = opts.only?.length
    ? SERVICE_NAMES.filter((n) => opts.only?.includes(n))
    : SERVICE_NAMES.filter((n) => !defs[n].optional || (n === 'ollama' && opts.ollama));
  const notes: string[] = [];

  const actions = await withStackLock(cfg.dataDir, 3 * cfg.STACK_START_TIMEOUT_MS, async () => {
    if (opts.fresh) {
      await stopAll(cfg);
      wipeDataDir(cfg);
    }
    const settled = await Promise.allSettled(selected.map((name) => upService(cfg, defs[name], notes)));
    const failures = settled.flatMap((s) => (s.status === 'rejected' ? [toError(s.reason)] : []));
    // One failure keeps its own class (PortInUseError...); several are listed together.
    if (failures.length === 1) throw failures[0];
    if (failures.length) throw new StackUpError(failures);
    const result: Partial<Record<ServiceName, UpAction>> = {};
    selected.forEach((name, i) => {
      const s = settled[i];
      if (s?.status === 'fulfilled') result[name] = s.value;
    });
    // Under the lock: two `up --ollama` at once must not both register the model.
    if (selected.includes('ollama')) notes.push(...(await ensureStackModel(cfg, opts.env)));
    return result;
  });
  const ollamaRec = readPidRecord(cfg.dataDir, 'ollama');
  const ollamaRunning = ollamaRec !== null && isProcessAlive(ollamaRec.pid, ollamaRec.procStartTicks);
  if (!selected.includes('ollama') && pointsAtStackOllama(cfg) && !ollamaRunning) {
    notes.push(
      `ollama: OLLAMA_HOST=${cfg.OLLAMA_HOST} names the stack's Ollama server, which is not running; add --ollama`,
    );
  }

  if (selected.includes('temporal')) {
    try {
      const added = await ensureSearchAttributes(cfg);
      if (added.length) notes.push(`temporal: registered search attributes ${added.join(', ')}`);
    } catch (err) {
      // An external cluster (e.g. Temporal Cloud) may not allow the operator API: say so, go on.
      if (!cfg.external.temporal) throw err;
      notes.push(`temporal: could not register search attributes: ${toError(err).message}`);
    }
  }
  if (selected.includes('dynamodb') && selected.includes('s3')) await provision(cfg);

  return { actions, notes, status: await stackStatus(cfg, opts.env) };
}

async function upService(cfg: AppConfig, def: ServiceDef, notes: string[]): Promise<UpAction> {
  if (def.external) {
    const health = await def.probe();
    if (!health.ok) throw new ExternalServiceError(def.name, def.url, def.externalVar, health.reason);
    return 'external';
  }
  if (def.notInstalled) {
    // Asked for by name, a missing optional service is an error; a missing emulator is only noted.
    if (def.optional) throw new ServiceNotInstalledError(def.name, def.notInstalled);
    notes.push(`${def.name}: not installed (${def.notInstalled}); skipped`);
    return 'skipped';
  }

  const wantedPorts = def.ports.map((p) => p.port);
  const rec = readPidRecord(cfg.dataDir, def.name);
  if (rec && isProcessAlive(rec.pid, rec.procStartTicks)) {
    const samePorts = rec.ports.join(',') === wantedPorts.join(',');
    if (samePorts) {
      // Ours and alive: reuse it if it answers, or once it answers (it may still be starting).
      const health = await waitForHealthy(def.probe, {
        timeoutMs: Math.min(UNHEALTHY_GRACE_MS, cfg.STACK_START_TIMEOUT_MS),
        stillRunning: () => isProcessAlive(rec.pid, rec.procStartTicks),
      });
      if (health.ok) return 'reused';
      notes.push(`${def.name}: pid ${rec.pid} did not answer (${health.reason}); restarted`);
    } else {
      notes.push(
        `${def.name}: ports changed (${rec.ports.join(',')} -> ${wantedPorts.join(',')}); restarted`,
      );
    }
    await stopRecordedProcess(rec, cfg.STACK_STOP_GRACE_MS);
  }
  removePidRecord(cfg.dataDir, def.name);

  for (const { port, envVar } of def.ports) {
    if (!(await isPortFree(port))) throw new PortInUseError(def.name, port, envVar);
  }

  const launch = def.launch();
  for (const dir of def.dataDirs) fs.mkdirSync(dir, { recursive: true });
  const log = logFile(cfg.dataDir, def.name);
  const child = await spawnDetached(launch, log);
  const pid = child.pid;
  const started: PidRecord = {
    service: def.name,
    pid,
    port: wantedPorts[0] ?? 0,
    ports: wantedPorts,
    startedAt: new Date().toISOString(),
    procStartTicks: procStartTicks(pid),
    command: [launch.command, ...launch.args],
    logFile: log,
  };
  writePidRecord(cfg.dataDir, started);

  const health = await waitForHealthy(def.probe, {
    timeoutMs: cfg.STACK_START_TIMEOUT_MS,
    stillRunning: () => isProcessAlive(pid, started.procStartTicks),
  });
  if (!health.ok) {
    // How it ended, if it died by itself (the exit event may trail the probe that saw it gone).
    const exit = isProcessAlive(pid, started.procStartTicks)
      ? null
      : await Promise.race([child.exited, sleep(500).then(() => null)]);
    // Leave nothing half-started behind: the next `up` starts it cleanly.
    await stopRecordedProcess(started, cfg.STACK_STOP_GRACE_MS);
    removePidRecord(cfg.dataDir, def.name);
    throw new ServiceStartError(
      def.name,
      exit ? `${health.reason}; ${exit}` : health.reason,
      log,
      tailLog(log),
    );
  }
  return 'started';
}

/** Stops every process recorded in our pid files (and only those) and removes the pid files. */
export async function stackDown(cfg: AppConfig): Promise<{ stopped: string[] }> {
  return withStackLock(cfg.dataDir, 3 * cfg.STACK_START_TIMEOUT_MS, () => stopAll(cfg));
}

async function stopAll(cfg: AppConfig): Promise<{ stopped: string[] }> {
  const records = listPidRecords(cfg.dataDir);
  await Promise.all(
    records.map(async (rec) => {
      await stopRecordedProcess(rec, cfg.STACK_STOP_GRACE_MS);
      removePidRecord(cfg.dataDir, rec.service);
    }),
  );
  return { stopped: records.map((r) => r.service) };
}

/** Per service: url, pid and state, from pid files and one health probe each (run concurrently). */
export async function stackStatus(
  cfg: AppConfig,
  env: NodeJS.ProcessEnv = process.env,
): Promise<StackStatus> {
  const defs = describeServices(cfg, env);
  const entries = await Promise.all(
    SERVICE_NAMES.map(async (name) => [name, await serviceStatus(cfg, defs[name])] as const),
  );
  const byName = Object.fromEntries(entries) as Record<ServiceName, ServiceStatus>;
  const status = {} as StackStatus;
  for (const name of STATUS_NAMES) {
    status[name] = name === 'temporalUi' ? await temporalUiStatus(cfg, byName.temporal) : byName[name];
  }
  return status;
}

async function serviceStatus(cfg: AppConfig, def: ServiceDef): Promise<ServiceStatus> {
  if (def.external) {
    const health = await def.probe();
    return health.ok
      ? { url: def.url, pid: null, state: 'external' }
      : {
          url: def.url,
          pid: null,
          state: 'unhealthy',
          detail: `external (${def.externalVar}): ${health.reason}`,
        };
  }
  const rec = readPidRecord(cfg.dataDir, def.name);
  const alive = rec !== null && isProcessAlive(rec.pid, rec.procStartTicks);
  if (!rec || !alive) {
    if (def.notInstalled)
      return { url: def.url, pid: null, state: 'not installed', detail: def.notInstalled };
    const busy = await firstBusyPort(def);
    return {
      url: def.url,
      pid: null,
      state: 'stopped',
      ...(busy ? { detail: `port ${busy.port} (${busy.envVar}) is used by a program we did not start` } : {}),
    };
  }
  const health = await def.probe();
  return health.ok
    ? { url: def.url, pid: rec.pid, state: 'running' }
    : { url: def.url, pid: rec.pid, state: 'unhealthy', detail: health.reason };
}

async function temporalUiStatus(cfg: AppConfig, temporal: ServiceStatus): Promise<ServiceStatus> {
  const url = temporalUiUrl(cfg);
  if (cfg.external.temporal) {
    if (!url) return { url: null, pid: null, state: 'external', detail: 'set TEMPORAL_UI_URL to show it' };
    const health = await probeHttp(url);
    return health.ok
      ? { url, pid: null, state: 'external' }
      : { url, pid: null, state: 'unhealthy', detail: health.reason };
  }
  if (temporal.pid === null) return { url, pid: null, state: 'stopped' };
  const health: Health = await probeHttp(url ?? '');
  return health.ok
    ? { url, pid: temporal.pid, state: 'running' }
    : { url, pid: temporal.pid, state: 'unhealthy', detail: health.reason };
}

async function firstBusyPort(def: ServiceDef): Promise<ServiceDef['ports'][number] | undefined> {
  for (const p of def.ports) if (!(await isPortFree(p.port))) return p;
  return undefined;
}

/**
 * Empties DATA_DIR (keeping only the lock we hold). Refuses directories that are clearly not a data
 * dir: the filesystem root, the home directory, or the project itself or one of its parents.
 */
function wipeDataDir(cfg: AppConfig): void {
  const dir = path.resolve(cfg.dataDir);
  const isAncestorOrSelf = (of: string): boolean => of === dir || of.startsWith(dir + path.sep);
  if (dir === path.parse(dir).root) throw new UnsafeDataDirError(dir, 'it is the filesystem root');
  if (isAncestorOrSelf(os.homedir())) throw new UnsafeDataDirError(dir, 'it contains the home directory');
  if (isAncestorOrSelf(PROJECT_ROOT)) throw new UnsafeDataDirError(dir, 'it contains the project');
  if (!fs.existsSync(dir)) return;
  const keep = lockFile(dir);
  for (const entry of fs.readdirSync(dir)) {
    const full = path.join(dir, entry);
    if (keep.startsWith(full + path.sep)) {
      for (const inner of fs.readdirSync(full)) {
        const innerFull = path.join(full, inner);
        if (innerFull !== keep) fs.rmSync(innerFull, { recursive: true, force: true });
      }
    } else {
      fs.rmSync(full, { recursive: true, force: true });
    }
  }
}

function toError(reason: unknown): Error {
  return reason instanceof Error ? reason : new Error(String(reason));
}
