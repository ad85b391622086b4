import { readFileSync } from "node:fs";
import os from "node:os";
import { performance } from "node:perf_hooks";
import pg from "pg";
import { formatTable } from "./report.js";

// Linux reports process CPU time in clock ticks of 1/100 s (`getconf CLK_TCK`).
const ticksPerSecond = 100;

/** A group of processes whose CPU time is added up: one service, or the PostgreSQL backends of some databases. */
export interface CpuGroup {
  name: string;
  /** The pids now; asked again at the end, since processes come and go. */
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

/**
 * The PostgreSQL backends serving these databases (`pg_stat_activity`), so that other work on a
 * shared server does not count. WAL writing and checkpoints done by the server's own background
 * processes are left out. Call `refresh()` before starting and before finishing a window.
 */
export class PostgresBackends implements CpuGroup {
  private current: number[] = [];
  private readonly databases: string[];
  private readonly adminUrl: string;

  constructor(
    readonly name: string,
    databaseUrls: string[],
  ) {
    this.databases = databaseUrls.map((url) => decodeURIComponent(new URL(url).pathname.slice(1)));
    const admin = new URL(databaseUrls[0]!);
    admin.pathname = "/postgres";
    this.adminUrl = admin.toString();
  }

  pids(): number[] {
    return this.current;
  }

  async refresh(): Promise<void> {
    const client = new pg.Client({ connectionString: this.adminUrl });
    await client.connect();
    try {
      const { rows } = await client.query<{ pid: number }>("SELECT pid FROM pg_stat_activity WHERE datname = ANY($1)", [this.databases]);
      this.current = rows.map((row) => row.pid);
    } finally {
      await client.end();
    }
  }
}

export interface CpuUsage {
  name: string;
  /** CPU seconds used over the window. */
  seconds: number;
  /** The same as a share of one core (100 = one core busy all the time). */
  percentOfCore: number;
}

export interface CpuWindow {
  groups: CpuUsage[];
  wallSeconds: number;
  /** Share of all cores the whole machine was busy, whoever used them. */
  machineBusyPercent: number;
  cores: number;
}

/**
 * Starts measuring CPU use per group; `finish()` returns it for the window between the two.
 * Processes that start inside the window count in full, those that end inside it not at all.
 */
export function startCpuWindow(groups: CpuGroup[]): { finish(): CpuWindow } {
  const before = groups.map((group) => new Map(group.pids().map((pid) => [pid, cpuSecondsOf(pid)])));
  const startedAt = performance.now();
  const machineBefore = machineSeconds();
  return {
    finish() {
      const pidsAfter = groups.map((group) => group.pids());
      const wallSeconds = (performance.now() - startedAt) / 1000;
      const machineAfter = machineSeconds();
      const usage = groups.map((group, index) => {
        let seconds = 0;
        for (const pid of pidsAfter[index]!) seconds += cpuSecondsOf(pid) - (before[index]!.get(pid) ?? 0);
        return { name: group.name, seconds, percentOfCore: (100 * seconds) / wallSeconds };
      });
      const total = machineAfter.total - machineBefore.total;
      return {
        groups: usage,
        wallSeconds,
        machineBusyPercent: total > 0 ? (100 * (machineAfter.busy - machineBefore.busy)) / total : Number.NaN,
        cores: os.cpus().length,
      };
    },
  };
}

export interface CpuCost {
  table: string;
  /** CPU of all groups per unit of work, net of what they use when idle if an idle window is given. */
  totalMsPerUnit: number;
  /** Share of one core all groups use with no work at all (0 without an idle window). */
  idlePercentOfCore: number;
}

/**
 * CPU of every group over a window, with the CPU each unit of work (an order, an event) cost.
 * Given `idle`, a window of the same groups doing nothing, the cost per unit leaves out what they
 * spend anyway (polling, timers), which otherwise swamps the figure at low throughput.
 */
export function formatCpuTable(window: CpuWindow, unit: string, units: number, idle?: CpuWindow): CpuCost {
  const idlePercentOf = (name: string) => idle?.groups.find((group) => group.name === name)?.percentOfCore ?? 0;
  // Noise can make a nearly idle process's net cost come out below zero.
  const msPerUnit = (seconds: number, idlePercent: number) =>
    units > 0 ? (Math.max(0, seconds - (idlePercent / 100) * window.wallSeconds) * 1000) / units : Number.NaN;
  const total = {
    name: "total",
    seconds: window.groups.reduce((sum, group) => sum + group.seconds, 0),
    idlePercent: window.groups.reduce((sum, group) => sum + idlePercentOf(group.name), 0),
  };
  const rows = [...window.groups]
    .sort((a, b) => b.seconds - a.seconds)
    .map((group) => ({ name: group.name, seconds: group.seconds, idlePercent: idlePercentOf(group.name) }))
    .concat(total)
    .map((group) => [
      group.name,
      ((100 * group.seconds) / window.wallSeconds).toFixed(0),
      ...(idle ? [group.idlePercent.toFixed(1)] : []),
      msPerUnit(group.seconds, group.idlePercent).toFixed(3),
    ]);
  const header = ["process", "% of one core", ...(idle ? ["% when idle"] : []), `CPU ms per ${unit}${idle ? " (net of idle)" : ""}`];
  return {
    table: formatTable(header, rows),
    totalMsPerUnit: msPerUnit(total.seconds, total.idlePercent),
    idlePercentOfCore: total.idlePercent,
  };
}
