import { existsSync, mkdirSync } from "node:fs";
import path from "node:path";
import { connect, type NatsConnection } from "nats";
import { ManagedProcess } from "./child-process.js";
import { freePort } from "./free-port.js";

/** `nats-server` on PATH, else where Debian installs it. */
export function natsServerBinary(): string {
  const folders = [...(process.env.PATH ?? "").split(path.delimiter).filter(Boolean), "/usr/sbin", "/usr/local/sbin"];
  const found = folders.map((folder) => path.join(folder, "nats-server")).find((candidate) => existsSync(candidate));
  if (!found) throw new Error("nats-server is not installed (looked on PATH and in /usr/sbin): apt-get install -y nats-server");
  return found;
}

/** True when a client can connect and JetStream answers for the account. */
async function jetStreamAnswers(url: string): Promise<boolean> {
  let nc: NatsConnection;
  try {
    nc = await connect({ servers: url, timeout: 1_000, reconnect: false });
  } catch {
    return false;
  }
  try {
    await (await nc.jetstreamManager({ checkAPI: false })).getAccountInfo();
    return true;
  } catch {
    return false;
  } finally {
    await nc.close();
  }
}

export interface NatsServerOptions {
  /** Holds the JetStream store and the log. */
  dir: string;
  readyTimeoutMs?: number;
}

/**
 * A NATS server with JetStream of its own (loopback, a free port, a store in `dir`), so a test
 * neither sees nor disturbs the shared one. `restart` keeps port and store: streams, consumers
 * and their messages survive it as they would a real server restart.
 */
export class NatsServer {
  readonly url: string;
  readonly storeDir: string;
  private readonly process: ManagedProcess;
  private readonly readyTimeoutMs: number;

  private constructor(
    readonly port: number,
    options: NatsServerOptions,
  ) {
    this.url = `nats://127.0.0.1:${port}`;
    this.storeDir = path.join(options.dir, "jetstream");
    this.readyTimeoutMs = options.readyTimeoutMs ?? 20_000;
    mkdirSync(this.storeDir, { recursive: true });
    this.process = new ManagedProcess({
      name: "nats-server",
      command: natsServerBinary(),
      args: ["-js", "-a", "127.0.0.1", "-p", String(port), "-sd", this.storeDir],
      logFile: path.join(options.dir, "nats-server.log"),
    });
  }

  static async start(options: NatsServerOptions): Promise<NatsServer> {
    const server = new NatsServer(await freePort(), options);
    await server.start();
    return server;
  }

  get pid(): number | undefined {
    return this.process.pid;
  }

  /** Starts the server and waits until JetStream answers. */
  async start(): Promise<void> {
    this.process.spawn();
    await this.process.waitUntil(() => jetStreamAnswers(this.url), `serving JetStream on port ${this.port}`, this.readyTimeoutMs);
  }

  /** Kills the server (SIGKILL unless told otherwise) and waits until it is gone. */
  kill(signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    return this.process.kill(signal);
  }

  /** Kills the server and starts it again on the same port and store. */
  async restart(signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    await this.kill(signal);
    await this.start();
  }

  stop(): Promise<void> {
    return this.process.stop();
  }

  logTail(lines?: number): string {
    return this.process.logTail(lines);
  }
}
