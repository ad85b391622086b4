import path from "node:path";
import { pathToFileURL } from "node:url";
import type { ShopContext } from "@shop/contracts";
import { Health, HealthCheckResponse_ServingStatus } from "@shop/contracts/grpc/health/v1/health_pb.js";
import { createServiceClient, envPrefix } from "@shop/runtime";
import { credentialsEnv } from "@shop/runtime/testing";
import { ManagedProcess } from "./child-process.js";

export const repoRoot = path.resolve(import.meta.dirname, "../..");

const exitWithParent = pathToFileURL(path.join(import.meta.dirname, "exit-with-parent.ts")).href;

/** True when the service at `address` answers the gRPC health check with SERVING. */
export async function isServing(address: string, timeoutMs = 1_000): Promise<boolean> {
  // A fresh channel per probe: a reused one would wait out its reconnect backoff after a restart.
  const health = createServiceClient(Health, { address, defaultTimeoutMs: timeoutMs });
  try {
    const { status } = await health.check({ service: "" });
    return status === HealthCheckResponse_ServingStatus.SERVING;
  } catch {
    return false;
  } finally {
    health.close();
  }
}

export interface ServiceProcessOptions {
  context: ShopContext;
  /** Fixed across restarts, since other services reach this one by address. */
  port: number;
  /** The process's environment; host, ports and metrics (off) are set on top of it. */
  env: NodeJS.ProcessEnv;
  logFile: string;
  readyTimeoutMs?: number;
  /** Node options before the entry point (`--cpu-prof`, say). */
  execArgv?: string[];
}

/**
 * One service as a real process (`node --import tsx services/<context>/src/main.ts`, which
 * ends itself if the test process dies), ready once it answers the gRPC health check. `kill` is a `kill -9` by default; `restart` starts it
 * again the same way, on the same port and database.
 */
export class ServiceProcess {
  readonly context: ShopContext;
  readonly port: number;
  readonly address: string;
  private readonly process: ManagedProcess;
  private readonly readyTimeoutMs: number;

  constructor(options: ServiceProcessOptions) {
    this.context = options.context;
    this.port = options.port;
    this.address = `127.0.0.1:${options.port}`;
    this.readyTimeoutMs = options.readyTimeoutMs ?? 60_000;
    const prefix = envPrefix(options.context);
    this.process = new ManagedProcess({
      name: options.context,
      command: process.execPath,
      args: [
        ...(options.execArgv ?? []),
        "--import",
        "tsx",
        "--import",
        exitWithParent,
        path.join("services", options.context, "src", "main.ts"),
      ],
      cwd: repoRoot,
      env: {
        ...options.env,
        ...credentialsEnv(options.context),
        [`${prefix}_HOST`]: "127.0.0.1",
        [`${prefix}_PORT`]: String(options.port),
        [`${prefix}_METRICS_PORT`]: "0",
      },
      logFile: options.logFile,
    });
  }

  static async start(options: ServiceProcessOptions): Promise<ServiceProcess> {
    const service = new ServiceProcess(options);
    await service.start();
    return service;
  }

  get pid(): number | undefined {
    return this.process.pid;
  }

  get isRunning(): boolean {
    return this.process.isRunning;
  }

  /** Spawns the process and waits until it reports SERVING. */
  async start(): Promise<void> {
    this.process.spawn();
    await this.process.waitUntil(() => isServing(this.address), `SERVING on ${this.address}`, this.readyTimeoutMs);
  }

  kill(signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    return this.process.kill(signal);
  }

  /** Kills the process (`kill -9` unless told otherwise) and starts it again. */
  async restart(signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    await this.kill(signal);
    await this.start();
  }

  /** Graceful stop (SIGTERM), forced after `graceMs`. */
  stop(graceMs?: number): Promise<void> {
    return this.process.stop(graceMs);
  }

  logTail(lines?: number): string {
    return this.process.logTail(lines);
  }
}
