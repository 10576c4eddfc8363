/**
 * How busy the machine was with things that are not this benchmark, so that a round slowed down
 * by someone else's work can be told from a slow round. Linux only (/proc); elsewhere every
 * reading is null and nothing is reported.
 *
 * "Ours" is this process (with the children it has reaped: git, npm, the builds), its live
 * descendants (the apps Construct runs), and the PostgreSQL backends serving this run's
 * databases (recognised by their database name in the process title). Everything else the
 * machine did in the meantime is "other".
 */
import { readdirSync, readFileSync } from 'node:fs';

/** USER_HZ: the unit of /proc's CPU times, 100 on every Linux in practice. */
const TICKS_PER_SECOND = 100;

export interface CpuSnapshot {
  atMs: number;
  machineBusySec: number;
  stealSec: number;
  oursSec: number;
}

export interface CpuUsage {
  /** CPU of everything else, in % of one core over the interval. */
  otherPercent: number;
  /** CPU of this benchmark and the stack, in % of one core. */
  oursPercent: number;
  /** Time the hypervisor gave to other guests, in % of one core. */
  stealPercent: number;
}

interface ProcessStat {
  ppid: number;
  /** utime + stime + cutime + cstime, in ticks. */
  ticks: number;
}

function readProcessStat(pid: string): ProcessStat | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may hold spaces and parentheses; the fields after it do not.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    // After the name: state(0) ppid(1) … utime(11) stime(12) cutime(13) cstime(14).
    const ticks = [11, 12, 13, 14].reduce((sum, i) => sum + Number(fields[i] ?? 0), 0);
    return { ppid: Number(fields[1]), ticks };
  } catch {
    return null;
  }
}

/** `databaseTag`: a string only this run's database names contain. */
export function cpuSnapshot(databaseTag: string): CpuSnapshot | null {
  let machine: number[];
  try {
    machine = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  } catch {
    return null;
  }
  // user nice system idle iowait irq softirq steal (guest time is already within user).
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = machine;

  const stats = new Map<number, ProcessStat>();
  const titles = new Map<number, string>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readProcessStat(entry);
    if (!stat) continue;
    stats.set(Number(entry), stat);
    try {
      titles.set(Number(entry), readFileSync(`/proc/${entry}/cmdline`, 'utf8'));
    } catch {
      // Gone meanwhile.
    }
  }
  const ours = (pid: number): boolean => {
    for (let current = pid, hops = 0; current > 1 && hops < 64; hops++) {
      if (current === process.pid) return true;
      current = stats.get(current)?.ppid ?? 0;
    }
    return titles.get(pid)?.includes(databaseTag) ?? false;
  };
  let oursTicks = 0;
  for (const [pid, stat] of stats) if (ours(pid)) oursTicks += stat.ticks;

  return {
    atMs: performance.now(),
    machineBusySec: (user + nice + system + irq + softirq + steal) / TICKS_PER_SECOND,
    stealSec: steal / TICKS_PER_SECOND,
    oursSec: oursTicks / TICKS_PER_SECOND,
  };
}

export function cpuBetween(before: CpuSnapshot | null, after: CpuSnapshot | null): CpuUsage | null {
  if (!before || !after) return null;
  const seconds = (after.atMs - before.atMs) / 1000;
  if (seconds <= 0) return null;
  const percent = (value: number) => (100 * value) / seconds;
  const busy = after.machineBusySec - before.machineBusySec;
  const ours = after.oursSec - before.oursSec;
  return {
    otherPercent: Math.max(0, percent(busy - ours)),
    oursPercent: percent(ours),
    stealPercent: percent(after.stealSec - before.stealSec),
  };
}
