import { readdirSync, readFileSync } from "node:fs";
import os from "node:os";
import { performance } from "node:perf_hooks";

// Linux reports process CPU time in clock ticks of 1/100 s (`getconf CLK_TCK`).
const ticksPerSecond = 100;

/** A group of processes whose CPU time is added up: one service, or every PostgreSQL backend. */
export interface CpuGroup {
  name: string;
  /** The pids now; asked again at each sample, since backends come and go. */
  pids(): number[];
}

/** User + system CPU seconds of a process so far; 0 once it is gone. */
function cpuSecondsOf(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name, which is in parentheses and may hold spaces.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond;
  } catch {
    return 0;
  }
}

/** Busy and total CPU seconds of the whole machine (all cores). */
function machineSeconds(): { busy: number; total: number } {
  const [, ...values] = readFileSync("/proc/stat", "utf8").split("\n", 1)[0]!.trim().split(/\s+/);
  const ticks = values.map(Number);
  const total = ticks.reduce((sum, value) => sum + value, 0);
  const idle = ticks[3]! + (ticks[4] ?? 0);
  return { busy: (total - idle) / ticksPerSecond, total: total / ticksPerSecond };
}

/** Processes whose command name (`/proc/<pid>/comm`) is `name`, e.g. every `postgres` process. */
export function pidsNamed(name: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, "utf8").trim() === name) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

export interface CpuUsage {
  name: string;
  /** CPU used over the window, as a share of one core (100 = one core busy all the time). */
  percentOfCore: number;
}

export interface CpuWindow {
  groups: CpuUsage[];
  /** Share of all cores the whole machine was busy, whoever used them. */
  machineBusyPercent: number;
  cores: number;
}

/**
 * Starts measuring CPU use per group; `finish()` returns it for the window between the two.
 * Processes that start inside the window count in full, those that end inside it not at all.
 */
export function startCpuWindow(groups: CpuGroup[]): { finish(): CpuWindow } {
  const startedAt = performance.now();
  const machineBefore = machineSeconds();
  const before = groups.map((group) => new Map(group.pids().map((pid) => [pid, cpuSecondsOf(pid)])));
  return {
    finish() {
      const wallSeconds = (performance.now() - startedAt) / 1000;
      const machineAfter = machineSeconds();
      const usage = groups.map((group, index) => {
        let seconds = 0;
        for (const pid of group.pids()) seconds += cpuSecondsOf(pid) - (before[index]!.get(pid) ?? 0);
        return { name: group.name, percentOfCore: (100 * seconds) / wallSeconds };
      });
      const total = machineAfter.total - machineBefore.total;
      return {
        groups: usage,
        machineBusyPercent: total > 0 ? (100 * (machineAfter.busy - machineBefore.busy)) / total : Number.NaN,
        cores: os.cpus().length,
      };
    },
  };
}
