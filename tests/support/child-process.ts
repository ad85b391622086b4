import { type ChildProcess, spawn } from "node:child_process";
import { appendFileSync, closeSync, existsSync, openSync, readFileSync } from "node:fs";
import { waitFor } from "@shop/runtime/testing";

export interface ChildSpec {
  /** Name used in messages. */
  name: string;
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** stdout and stderr of every run are appended here. */
  logFile: string;
}

const running = new Set<ChildProcess>();

// A test run that dies before its cleanup must not leave servers behind.
process.once("exit", () => {
  for (const child of running) child.kill("SIGKILL");
});

/**
 * A child process that can be killed and spawned again with the same command, its output kept
 * in a log file across runs (read back with `logTail` when something goes wrong).
 */
export class ManagedProcess {
  private child?: ChildProcess;
  private exited: Promise<void> = Promise.resolve();
  /** How the last run ended; undefined while it runs. */
  exitDescription?: string;

  constructor(readonly spec: ChildSpec) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get isRunning(): boolean {
    return this.child !== undefined && this.exitDescription === undefined;
  }

  spawn(): void {
    if (this.isRunning) throw new Error(`${this.spec.name} is already running (pid ${this.pid})`);
    appendFileSync(this.spec.logFile, `--- ${new Date().toISOString()} ${this.spec.name} starting\n`);
    const log = openSync(this.spec.logFile, "a");
    let child: ChildProcess;
    try {
      child = spawn(this.spec.command, this.spec.args, { cwd: this.spec.cwd, env: this.spec.env, stdio: ["ignore", log, log] });
    } finally {
      closeSync(log);
    }
    this.child = child;
    this.exitDescription = undefined;
    running.add(child);
    this.exited = new Promise((resolve) => {
      const ended = (description: string) => {
        running.delete(child);
        this.exitDescription ??= description;
        resolve();
      };
      child.once("exit", (code, signal) => ended(signal ? `killed by ${signal}` : `exited with code ${code}`));
      child.once("error", (err) => ended(`could not run: ${err.message}`));
    });
  }

  /** Sends `signal` (SIGKILL unless told otherwise) and waits until the process is gone. */
  async kill(signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    if (this.isRunning) this.child!.kill(signal);
    await this.exited;
  }

  /** Asks the process to stop (SIGTERM) and kills it if it is still there after `graceMs`. */
  async stop(graceMs = 5_000): Promise<void> {
    if (!this.isRunning) return;
    const force = setTimeout(() => this.child?.kill("SIGKILL"), graceMs);
    try {
      await this.kill("SIGTERM");
    } finally {
      clearTimeout(force);
    }
  }

  /**
   * Polls `ready` until it says true; fails at once if the process exits meanwhile, and with
   * the end of its log either way.
   */
  async waitUntil(ready: () => Promise<boolean>, what: string, timeoutMs: number): Promise<void> {
    const state = await waitFor(
      async () => (this.isRunning ? await ready() : this.exitDescription),
      (value) => value !== false,
      {
        timeoutMs,
        intervalMs: 50,
        what: `${this.spec.name} to be ${what}`,
      },
    ).catch((err: Error) => {
      throw new Error(`${err.message}\n${this.logTail()}`);
    });
    if (state !== true) throw new Error(`${this.spec.name} ${state} before it was ${what}:\n${this.logTail()}`);
  }

  /** The last lines of the log, each cut to `width` characters, for failure messages. */
  logTail(lines = 30, width = 400): string {
    if (!existsSync(this.spec.logFile)) return "";
    const tail = readFileSync(this.spec.logFile, "utf8").trimEnd().split("\n").slice(-lines);
    return tail.map((line) => (line.length > width ? `${line.slice(0, width)}...` : line)).join("\n");
  }
}
