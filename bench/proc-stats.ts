// CPU seconds and peak memory of processes, read from /proc (Linux): stable where wall-clock times
// on a shared machine are not.
import fs from 'node:fs';

const CLOCK_TICKS_PER_S = 100; // sysconf(_SC_CLK_TCK) on Linux x86-64

/** User + system CPU seconds a process has used so far (0 once it is gone). */
export function cpuSeconds(pid: number): number {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces) start past the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    return (utime + stime) / CLOCK_TICKS_PER_S;
  } catch {
    return 0;
  }
}

/** Peak resident memory (VmHWM) of a process in MiB, or 0 once it is gone. */
export function peakRssMiB(pid: number): number {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0);
    return Math.round(kb / 1024);
  } catch {
    return 0;
  }
}

/** The process and all its descendants (a service started through a wrapper script counts whole). */
export function processTree(pid: number): number[] {
  const out = [pid];
  try {
    const children = fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
    for (const c of children ? children.split(/\s+/) : []) out.push(...processTree(Number(c)));
  } catch {
    // gone, or no children file: the pid alone
  }
  return out;
}

/** CPU seconds of each named process tree, measured between `start()` and `stop()`. */
export class CpuMeter {
  private readonly before = new Map<string, number>();

  constructor(private readonly pids: Record<string, number | undefined>) {}

  private read(): Map<string, number> {
    const m = new Map<string, number>();
    for (const [name, pid] of Object.entries(this.pids)) {
      if (!pid) continue;
      m.set(
        name,
        processTree(pid).reduce((s, p) => s + cpuSeconds(p), 0),
      );
    }
    return m;
  }

  start(): this {
    for (const [k, v] of this.read()) this.before.set(k, v);
    return this;
  }

  /** CPU seconds used by each process tree since `start()`. */
  stop(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [k, v] of this.read()) out[k] = Math.round((v - (this.before.get(k) ?? 0)) * 100) / 100;
    return out;
  }
}
