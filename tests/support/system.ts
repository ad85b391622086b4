import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import type { ShopContext } from "@shop/contracts";
import { envPrefix } from "@shop/runtime";
import { createTestDatabase, type TestDatabase } from "@shop/runtime/testing";
import { freePorts } from "./free-port.js";
import { NatsServer } from "./nats-server.js";
import { repoRoot, ServiceProcess } from "./service-process.js";

/** What each service calls over gRPC; a service starts once those serve, and stops before them. */
const callees: Partial<Record<ShopContext, readonly ShopContext[]>> = {
  orders: ["catalog", "inventory", "payments", "shipping"],
};

export interface SystemOptions {
  contexts: readonly ShopContext[];
  /** Variables for every service (they read only their own). */
  env?: Record<string, string>;
  /** Service logs go to files in the system's folder; `warn` keeps them short. */
  logLevel?: "fatal" | "error" | "warn" | "info" | "debug" | "trace";
  readyTimeoutMs?: number;
  /** Extra Node options of a service's process (`--cpu-prof`, say). */
  execArgv?: (context: ShopContext) => string[];
}

export interface RunningSystem {
  /** Temporary folder holding the logs and the JetStream store; removed by `stop`. */
  dir: string;
  nats: NatsServer;
  service(context: ShopContext): ServiceProcess;
  databaseUrl(context: ShopContext): string;
  /** The end of every log, for failure messages. */
  logTails(lines?: number): string;
  /** Stops every process (callers first), drops the databases and removes the folder. */
  stop(): Promise<void>;
}

/**
 * The services of `contexts` as real processes on a NATS server of their own, each with a
 * fresh migrated database and a free port, wired to each other by address. Nothing is shared
 * with `npm start` or with other test files.
 */
export async function startSystem(options: SystemOptions): Promise<RunningSystem> {
  const dir = await mkdtemp(path.join(tmpdir(), "shop-system-"));
  const databases = new Map<ShopContext, TestDatabase>();
  const services = new Map<ShopContext, ServiceProcess>();
  const starting = new Map<ShopContext, Promise<void>>();
  let nats: NatsServer | undefined;

  const logTails = (lines = 30) =>
    [
      ...(nats ? [["nats-server", nats.logTail(lines)] as const] : []),
      ...[...services].map(([context, s]) => [context, s.logTail(lines)] as const),
    ]
      .map(([name, tail]) => `----- ${name}\n${tail}`)
      .join("\n");

  // Every step runs even when an earlier one fails, so nothing is left behind; the first failure is reported.
  const stop = async () => {
    const stopOrder = [...services.keys()].sort((a, b) => Number(b in callees) - Number(a in callees));
    const failures: unknown[] = [];
    const attempt = (work: () => Promise<unknown>) => work().catch((err: unknown) => void failures.push(err));
    for (const context of stopOrder) await attempt(() => services.get(context)!.stop());
    if (nats) await attempt(() => nats!.stop());
    await Promise.all([...databases.values()].map((db) => attempt(() => db.drop())));
    await attempt(() => rm(dir, { recursive: true, force: true }));
    if (failures.length > 0) throw failures[0];
  };

  try {
    const [ports, dbs] = await Promise.all([
      freePorts(options.contexts.length),
      Promise.all(options.contexts.map((context) => createTestDatabase(context, path.join(repoRoot, "services", context)))),
    ]);
    for (const [index, context] of options.contexts.entries()) databases.set(context, dbs[index]!);
    nats = await NatsServer.start({ dir });

    const addresses = Object.fromEntries(
      options.contexts.map((context, index) => [`${envPrefix(context)}_ADDR`, `127.0.0.1:${ports[index]}`]),
    );
    const processFor = (context: ShopContext, index: number) =>
      new ServiceProcess({
        context,
        port: ports[index]!,
        env: {
          ...process.env,
          ...addresses,
          NATS_URL: nats!.url,
          LOG_LEVEL: options.logLevel ?? "warn",
          [`${envPrefix(context)}_DATABASE_URL`]: databases.get(context)!.url,
          ...options.env,
        },
        logFile: path.join(dir, `${context}.log`),
        readyTimeoutMs: options.readyTimeoutMs,
        execArgv: options.execArgv?.(context),
      });
    for (const [index, context] of options.contexts.entries()) services.set(context, processFor(context, index));

    const startAfterCallees = (context: ShopContext): Promise<void> => {
      let started = starting.get(context);
      if (!started) {
        const present = (callees[context] ?? []).filter((callee) => services.has(callee));
        started = Promise.all(present.map(startAfterCallees)).then(() => services.get(context)!.start());
        starting.set(context, started);
      }
      return started;
    };
    await Promise.all(options.contexts.map(startAfterCallees));
  } catch (err) {
    // Starts still under way would otherwise spawn processes after the cleanup.
    await Promise.allSettled(starting.values());
    await stop().catch(() => undefined);
    throw err;
  }

  return {
    dir,
    nats,
    service(context) {
      const service = services.get(context);
      if (!service) throw new Error(`${context} is not part of this system`);
      return service;
    },
    databaseUrl(context) {
      const db = databases.get(context);
      if (!db) throw new Error(`${context} is not part of this system`);
      return db.url;
    },
    logTails,
    stop,
  };
}
