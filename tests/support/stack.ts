import path from "node:path";
import { pathToFileURL } from "node:url";
import type { ShopContext } from "@shop/contracts";
import { contexts, envPrefix } from "@shop/runtime";
import { credentialsEnv } from "@shop/runtime/testing";
import { httpOk } from "../../scripts/infra.js";
import { ManagedProcess } from "./child-process.js";
import { freePort } from "./free-port.js";
import { repoRoot } from "./service-process.js";
import { type RunningSystem, startSystem } from "./system.js";

const exitWithParent = pathToFileURL(path.join(import.meta.dirname, "exit-with-parent.ts")).href;

export interface StackOptions {
  /** LOG_LEVEL of every process; `info` adds the gateway's access log. */
  logLevel: "fatal" | "error" | "warn" | "info" | "debug";
  /** Extra environment for every service and the gateway. */
  env?: Record<string, string>;
  /** Extra environment for the gateway alone, after `env`. */
  gatewayEnv?: Record<string, string>;
  /** Node options of each process (`--cpu-prof`, say), by service name or `gateway`. */
  execArgv?: (name: ShopContext | "gateway") => string[];
}

export interface RunningStack {
  gatewayUrl: string;
  system: RunningSystem;
  /** Every process of the stack by name (the seven services, then the gateway), for CPU figures. */
  processes: { name: string; pid: number }[];
  /** How the first process that is no longer running ended, if one is not. */
  unexpectedExit(): string | undefined;
  /** Stops the gateway, then the system (services, NATS, databases, logs). */
  stop(): Promise<void>;
}

/**
 * The whole system as `npm start` runs it, every service and the gateway in its own process,
 * on fresh databases and a private NATS (`startSystem` from tests/support), so nothing meets
 * another run or a system already running on this machine. Logs go to files in `system.dir`.
 */
export async function startStack(options: StackOptions): Promise<RunningStack> {
  const system = await startSystem({
    contexts,
    logLevel: options.logLevel,
    env: options.env,
    readyTimeoutMs: 120_000,
    execArgv: options.execArgv,
  });
  const gatewayUrl = `http://127.0.0.1:${await freePort()}`;
  const gateway = new ManagedProcess({
    name: "gateway",
    command: process.execPath,
    args: [...(options.execArgv?.("gateway") ?? []), "--import", "tsx", "--import", exitWithParent, path.join("gateway", "src", "main.ts")],
    cwd: repoRoot,
    env: {
      ...process.env,
      ...options.env,
      ...credentialsEnv("gateway"),
      ...Object.fromEntries(contexts.map((context) => [`${envPrefix(context)}_ADDR`, system.service(context).address])),
      NATS_URL: system.nats.url,
      LOG_LEVEL: options.logLevel,
      GATEWAY_HOST: "127.0.0.1",
      GATEWAY_PORT: new URL(gatewayUrl).port,
      ...options.gatewayEnv,
    },
    logFile: path.join(system.dir, "gateway.log"),
  });
  const stop = async () => {
    await gateway.stop(15_000);
    await system.stop();
  };
  try {
    gateway.spawn();
    await gateway.waitUntil(() => httpOk(`${gatewayUrl}/readyz`), `ready at ${gatewayUrl}/readyz`, 120_000);
  } catch (err) {
    await stop();
    throw err;
  }
  const services = contexts.map((context: ShopContext) => system.service(context));
  return {
    gatewayUrl,
    system,
    processes: [...services.map((service) => ({ name: service.context, pid: service.pid! })), { name: "gateway", pid: gateway.pid! }],
    unexpectedExit() {
      if (!gateway.isRunning) return `gateway ${gateway.exitDescription}:\n${gateway.logTail()}`;
      const stopped = services.find((service) => !service.isRunning);
      return stopped && `${stopped.context} stopped running:\n${stopped.logTail()}`;
    },
    stop,
  };
}
