import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import path from "node:path";
import { createInterface } from "node:readline";

// The line a server child prints on stdout once it accepts connections.
const listeningPrefix = "bench-listening ";

export interface ServedByChild {
  port: number;
  close(): Promise<void>;
}

/**
 * Child side: starts the server, tells the parent its port, and closes it when the parent asks
 * (SIGTERM) or goes away (stdin ends), so no server outlives its benchmark.
 */
export async function serveForParent(start: () => Promise<ServedByChild>): Promise<void> {
  const served = await start();
  let _closing: Promise<void> | undefined;
  const close = () => {
    _closing ??= served.close().then(
      () => process.exit(0),
      (err: unknown) => {
        process.stderr.write(`closing the server failed: ${String(err)}\n`);
        process.exit(1);
      },
    );
  };
  process.once("SIGTERM", close);
  process.stdin.on("end", close).resume();
  process.stdout.write(`${listeningPrefix}${served.port}\n`);
}

export interface ChildServer {
  readonly port: number;
  readonly pid: number;
  /** User + system CPU seconds the child has used so far (Linux /proc, 10 ms resolution). */
  cpuSeconds(): number;
  /** Asks the child to close its server and waits for it to exit (killing it if it lingers). */
  stop(): Promise<void>;
}

export interface ChildServerOptions {
  /** What the child serves, for `BENCH_CPU_PROFILE` (`gateway`, `catalog`, ...). */
  name?: string;
  /** Arguments after the script. */
  args?: string[];
  env?: NodeJS.ProcessEnv;
  readyTimeoutMs?: number;
  stopTimeoutMs?: number;
}

/** Where `BENCH_CPU_PROFILE` writes the profiles of child processes; git ignores it. */
export const profileDir = path.resolve(import.meta.dirname, "..", ".profiles");

/**
 * `node --cpu-prof` for a child whose name `BENCH_CPU_PROFILE` lists (comma-separated, or `all`):
 * a profile per thread is written to `bench/.profiles/<name>/` when it exits (the main thread's is the largest). Read one with
 * `node --import tsx bench/profile-summary.ts <file>`.
 */
export function cpuProfileArgs(name: string, source: NodeJS.ProcessEnv = process.env): string[] {
  const wanted = (source.BENCH_CPU_PROFILE ?? "").split(",").map((entry) => entry.trim());
  if (!wanted.includes(name) && !wanted.includes("all")) return [];
  return ["--cpu-prof", `--cpu-prof-dir=${path.join(profileDir, name)}`];
}

// Linux reports process CPU time in clock ticks of 1/100 s (`getconf CLK_TCK`).
const ticksPerSecond = 100;

function cpuSecondsOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // utime and stime are fields 14 and 15; the command name before them may hold spaces.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond;
}

async function stopChild(child: ChildProcess, timeoutMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, "exit");
  child.kill("SIGTERM");
  const force = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  try {
    await exited;
  } finally {
    clearTimeout(force);
  }
}

/**
 * Runs a TypeScript server script (which calls `serveForParent`) in its own Node process, so
 * server and load generator do not share a CPU-bound event loop, and resolves once it listens.
 */
export async function startChildServer(script: string, options: ChildServerOptions = {}): Promise<ChildServer> {
  const profiling = options.name === undefined ? [] : cpuProfileArgs(options.name);
  const child = spawn(process.execPath, [...profiling, "--import", "tsx", script, ...(options.args ?? [])], {
    env: options.env ?? process.env,
    stdio: ["pipe", "pipe", "inherit"],
  });
  const readyTimeoutMs = options.readyTimeoutMs ?? 30_000;
  const stopTimeoutMs = options.stopTimeoutMs ?? 5_000;
  const lines = createInterface({ input: child.stdout! });
  try {
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${script} did not report listening within ${readyTimeoutMs} ms`)), readyTimeoutMs);
      child.once("error", reject);
      child.once("exit", (code, signal) => reject(new Error(`${script} exited before listening (code ${code}, signal ${signal})`)));
      lines.on("line", (line) => {
        if (!line.startsWith(listeningPrefix)) {
          process.stderr.write(`[${script}] ${line}\n`);
          return;
        }
        clearTimeout(timer);
        resolve(Number(line.slice(listeningPrefix.length)));
      });
    });
    const pid = child.pid!;
    return { port, pid, cpuSeconds: () => cpuSecondsOf(pid), stop: () => stopChild(child, stopTimeoutMs) };
  } catch (err) {
    await stopChild(child, stopTimeoutMs);
    throw err;
  }
}
