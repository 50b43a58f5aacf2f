import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/*
 * CPU and memory of any process from /proc (Linux): the same measurement for Node services, the
 * load generators and redis-server. utime + stime cover every thread (GC, libuv pool, io threads).
 */

let ticks;
function clockTicks() {
  if (ticks === undefined) {
    try {
      ticks = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
    } catch {
      ticks = 100;
    }
  }
  return ticks;
}

/** CPU time of `pid` in µs split into user and system (kernel) time, or undefined when it is gone. */
export function cpuSplitUs(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after "pid (comm) ": state is index 0, utime 11, stime 12 (proc(5) fields 14 and 15).
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { user: (Number(fields[11]) * 1e6) / clockTicks(), system: (Number(fields[12]) * 1e6) / clockTicks() };
  } catch {
    return undefined;
  }
}

/** CPU time (user + system) of `pid` in µs, or undefined when it is gone. */
export function cpuTimeUs(pid) {
  const split = cpuSplitUs(pid);
  return split && split.user + split.system;
}

/** Resident set size of `pid` in bytes (VmRSS), or undefined. */
export function rssBytes(pid) {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/**
 * CPU of a set of processes over a window. `procs`: `{name, pid, side: 'server' | 'client'}`.
 * stop() gives each one's CPU µs and its share of one core over the window (100 % = one core busy).
 */
export class CpuMeter {
  constructor(procs) {
    this.procs = procs.filter((p) => p.pid);
  }

  start() {
    this.startedAt = process.hrtime.bigint();
    this.before = new Map(this.procs.map((p) => [p.pid, cpuTimeUs(p.pid) ?? 0]));
    return this;
  }

  stop() {
    const wallUs = Number((process.hrtime.bigint() - this.startedAt) / 1000n);
    const rows = this.procs.map((p) => {
      const cpuUs = Math.max(0, (cpuTimeUs(p.pid) ?? this.before.get(p.pid)) - this.before.get(p.pid));
      return { name: p.name, side: p.side, pid: p.pid, cpuUs, pct: wallUs > 0 ? (100 * cpuUs) / wallUs : 0 };
    });
    const sum = (side) => rows.filter((r) => r.side === side).reduce((a, r) => a + r.cpuUs, 0);
    const clientMax = Math.max(0, ...rows.filter((r) => r.side === 'client').map((r) => r.pct));
    return { wallUs, rows, serverUs: sum('server'), clientUs: sum('client'), clientMaxPct: clientMax };
  }
}

/** The machine's CPU time so far, from /proc/stat's first line (all cores, in ticks). */
export function cpuTicks() {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  return { steal: line[7] ?? 0, total: line.reduce((a, b) => a + b, 0) };
}

/**
 * Share of the machine's CPU time between two `cpuTicks()` that the hypervisor gave to other
 * guests (steal): on a shared VM the same run is slower when it is high.
 */
export function stealShare(before, after) {
  const total = after.total - before.total;
  return total > 0 ? (after.steal - before.steal) / total : 0;
}

/**
 * Share of the machine's CPU (all cores) that was busy over `sampleMs`, from /proc/stat: printed
 * before a run so that a disturbed machine shows in the report.
 */
export async function machineBusyShare(sampleMs = 1000) {
  const read = () => {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    return { idle: line[3] + (line[4] ?? 0), total: line.reduce((a, b) => a + b, 0) };
  };
  const a = read();
  await new Promise((resolve) => setTimeout(resolve, sampleMs));
  const b = read();
  const total = b.total - a.total;
  return total > 0 ? 1 - (b.idle - a.idle) / total : 0;
}
