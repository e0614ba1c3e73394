// Detached service processes: spawn with a log file, pid files, liveness, process-group stop, port probes.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** What `$DATA_DIR/pids/<service>.json` records about a process we started. */
export interface PidRecord {
  service: string;
  /** Pid of the process, which is also its process group id (spawned detached). */
  pid: number;
  /** Main port (the one its URL names). */
  port: number;
  /** Every port the service was told to listen on. */
  ports: number[];
  /** ISO time of the spawn. */
  startedAt: string;
  /** Start time of the process in clock ticks since boot (Linux); guards against a recycled pid. */
  procStartTicks: number | null;
  command: string[];
  logFile: string;
}

/** What to run for one service. */
export interface LaunchSpec {
  command: string;
  args: string[];
  cwd: string;
  env: NodeJS.ProcessEnv;
}

export function pidDir(dataDir: string): string {
  return path.join(dataDir, 'pids');
}

export function logDir(dataDir: string): string {
  return path.join(dataDir, 'logs');
}

export function pidFile(dataDir: string, service: string): string {
  return path.join(pidDir(dataDir), `${service}.json`);
}

export function logFile(dataDir: string, service: string): string {
  return path.join(logDir(dataDir), `${service}.log`);
}

export function readPidRecord(dataDir: string, service: string): PidRecord | null {
  try {
    const parsed = JSON.parse(fs.readFileSync(pidFile(dataDir, service), 'utf8')) as Partial<PidRecord>;
    if (typeof parsed.pid !== 'number' || !Number.isInteger(parsed.pid) || parsed.pid <= 1) return null;
    return {
      service,
      pid: parsed.pid,
      port: parsed.port ?? 0,
      ports: parsed.ports ?? (parsed.port ? [parsed.port] : []),
      startedAt: parsed.startedAt ?? '',
      procStartTicks: parsed.procStartTicks ?? null,
      command: parsed.command ?? [],
      logFile: parsed.logFile ?? logFile(dataDir, service),
    };
  } catch {
    return null;
  }
}

/** Services that have a pid file, whatever their name (so `down` stops what an older version started too). */
export function listPidRecords(dataDir: string): PidRecord[] {
  let names: string[];
  try {
    names = fs.readdirSync(pidDir(dataDir));
  } catch {
    return [];
  }
  return names
    .filter((n) => n.endsWith('.json'))
    .map((n) => readPidRecord(dataDir, n.slice(0, -'.json'.length)))
    .filter((r): r is PidRecord => r !== null);
}

export function writePidRecord(dataDir: string, rec: PidRecord): void {
  fs.mkdirSync(pidDir(dataDir), { recursive: true });
  const file = pidFile(dataDir, rec.service);
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(rec, null, 2) + '\n');
  fs.renameSync(tmp, file);
}

export function removePidRecord(dataDir: string, service: string): void {
  fs.rmSync(pidFile(dataDir, service), { force: true });
}

interface ProcStat {
  state: string;
  pgrp: number;
  startTicks: number;
}

/** Parses /proc/<pid>/stat; null when the process does not exist or /proc is unavailable. */
function readProcStat(pid: number): ProcStat | null {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // The command name (field 2) is in parentheses and may itself contain spaces or parentheses.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const state = fields[0] ?? '?';
  const pgrp = Number(fields[2]);
  const startTicks = Number(fields[19]);
  return { state, pgrp, startTicks };
}

const hasProc = fs.existsSync('/proc/self/stat');

/** Starts the line spawnDetached writes to a log before each start. */
const START_MARKER = '--- stack: ';

export function procStartTicks(pid: number): number | null {
  return readProcStat(pid)?.startTicks ?? null;
}

/**
 * True when `pid` is a live (non-zombie) process and, if `startTicks` is known, the same process
 * we started rather than a newer one that got its recycled pid.
 */
export function isProcessAlive(pid: number, startTicks: number | null = null): boolean {
  if (hasProc) {
    const stat = readProcStat(pid);
    if (!stat || stat.state === 'Z' || stat.state === 'X') return false;
    return startTicks === null || stat.startTicks === startTicks;
  }
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Pids of live (non-zombie) members of process group `pgid`. */
export function processGroupMembers(pgid: number): number[] {
  if (!hasProc) {
    try {
      process.kill(-pgid, 0);
      return [pgid];
    } catch {
      return [];
    }
  }
  const members: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readProcStat(Number(entry));
    if (stat && stat.pgrp === pgid && stat.state !== 'Z' && stat.state !== 'X') members.push(Number(entry));
  }
  return members;
}

/** A process just started by spawnDetached. */
export interface Spawned {
  pid: number;
  /** Resolves with how it ended (`exit code 1`, `signal SIGKILL`); known only to the spawning process. */
  exited: Promise<string>;
}

/** Starts `spec` detached in its own process group, stdout+stderr appended to `log`. */
export async function spawnDetached(spec: LaunchSpec, log: string): Promise<Spawned> {
  fs.mkdirSync(path.dirname(log), { recursive: true });
  fs.appendFileSync(
    log,
    `\n${START_MARKER}${new Date().toISOString()} starting: ${[spec.command, ...spec.args].join(' ')}\n`,
  );
  const fd = fs.openSync(log, 'a');
  try {
    const child = spawn(spec.command, spec.args, {
      cwd: spec.cwd,
      env: spec.env,
      detached: true,
      stdio: ['ignore', fd, fd],
    });
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', reject);
    });
    const exited = new Promise<string>((resolve) => {
      child.once('exit', (code, signal) => resolve(signal ? `signal ${signal}` : `exit code ${code ?? '?'}`));
    });
    child.unref();
    const pid = child.pid;
    if (pid === undefined) throw new Error(`could not start ${spec.command}`);
    return { pid, exited };
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Stops the process group we recorded: SIGTERM, up to `graceMs` to exit, then SIGKILL.
 * Never signals a process that is not the one we started (recycled pid) or not in its group.
 */
export async function stopRecordedProcess(rec: PidRecord, graceMs: number): Promise<void> {
  const pgid = rec.pid;
  const leaderIsOurs = isProcessAlive(rec.pid, rec.procStartTicks);
  // A recycled pid means our whole group is gone: Linux never reuses a pid still used as a group id.
  const leaderRecycled = !leaderIsOurs && isProcessAlive(rec.pid);
  if (leaderRecycled) return;
  if (processGroupMembers(pgid).length === 0) return;

  signalGroup(pgid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline && processGroupMembers(pgid).length > 0) await sleep(100);
  if (processGroupMembers(pgid).length === 0) return;

  signalGroup(pgid, 'SIGKILL');
  const killDeadline = Date.now() + 5_000;
  while (Date.now() < killDeadline && processGroupMembers(pgid).length > 0) await sleep(50);
}

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

/** True when nothing listens on `host:port` and we could bind it. */
export async function isPortFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** True when a TCP connection to `host:port` is accepted within `timeoutMs`. */
export async function portAnswers(port: number, host = '127.0.0.1', timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/**
 * Last `lines` lines a service wrote since its latest start (spawnDetached's marker line), ANSI colours
 * stripped; '' when there is nothing.
 */
export function tailLog(file: string, lines = 30): string {
  let text: string;
  try {
    const size = fs.statSync(file).size;
    const fd = fs.openSync(file, 'r');
    try {
      const len = Math.min(size, 64 * 1024);
      const buf = Buffer.alloc(len);
      fs.readSync(fd, buf, 0, len, size - len);
      text = buf.toString('utf8');
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return '';
  }
  const plain = text.replace(/\u001b\[[0-9;]*[A-Za-z]/g, '');
  const marker = plain.lastIndexOf(START_MARKER);
  const sinceStart = marker < 0 ? plain : plain.slice(plain.indexOf('\n', marker + 1) + 1);
  return sinceStart
    .split('\n')
    .filter((l) => l.trim() !== '')
    .slice(-lines)
    .join('\n');
}
