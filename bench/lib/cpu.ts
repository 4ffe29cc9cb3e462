/**
 * CPU seconds spent by other processes (Linux /proc), to say where a multi-process run's time
 * went: the serve instances, the PostgreSQL backends, the load client. Elsewhere it reports
 * nothing rather than guessing.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** USER_HZ: /proc/<pid>/stat counts in clock ticks, 100 per second on Linux. */
const TICKS = 100;

interface Stat {
  readonly ppid: number;
  readonly seconds: number;
}

function readStat(pid: number): Stat | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may hold spaces and parentheses: fields start after the last ")".
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    // fields[0] is field 3 (state): ppid is field 4, utime 14, stime 15.
    return {
      ppid: Number(fields[1]),
      seconds: (Number(fields[11]) + Number(fields[12])) / TICKS,
    };
  } catch {
    return undefined;
  }
}

/** `root` and its direct children (PostgreSQL's backends are the postmaster's children). */
export function withChildren(root: number): number[] {
  const pids = [root];
  try {
    for (const entry of readdirSync('/proc')) {
      const pid = Number(entry);
      if (Number.isInteger(pid) && readStat(pid)?.ppid === root) pids.push(pid);
    }
  } catch {
    // no /proc
  }
  return pids;
}

/**
 * Measures the CPU seconds `pids()` (asked at start and at stop) use between start and stop.
 * A process that appears in between counts from zero; one that exits in between is lost, so the
 * figure is a lower bound.
 */
export function startCpuMeter(pids: () => readonly number[]): { stop(): number | undefined } {
  const before = new Map<number, number>();
  for (const pid of pids()) {
    const stat = readStat(pid);
    if (stat) before.set(pid, stat.seconds);
  }
  return {
    stop() {
      let total = 0;
      let seen = false;
      for (const pid of pids()) {
        const stat = readStat(pid);
        if (!stat) continue;
        seen = true;
        total += stat.seconds - (before.get(pid) ?? 0);
      }
      return seen ? total : undefined;
    },
  };
}
