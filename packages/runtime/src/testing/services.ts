import path from "node:path";
import type { ShopContext } from "@shop/contracts";
import { type BaseServiceConfig, type RunningService, type ServiceDeps, type StartedParts, startService } from "../service.js";
import { envPrefix } from "../topology.js";
import { credentialsEnv } from "./credentials.js";
import { createTestDatabase, type TestDatabase } from "./databases.js";

export interface TestService {
  context: ShopContext;
  running: RunningService;
  /** `host:port` of its gRPC server. */
  address: string;
  db: TestDatabase;
  /** Stops the service, then drops its database (unless it was given one). */
  stop(): Promise<void>;
}

export interface TestServiceOptions {
  /** Extra variables, e.g. other services' `<CTX>_ADDR` or the service's own knobs. */
  env?: Record<string, string>;
  /** Run on this database instead of a fresh one (e.g. a second replica). */
  db?: TestDatabase;
}

/**
 * One service in this process, as `main.ts` runs it but on a fresh database of its own, a
 * free port, a small connection pool, metrics off and silent logs; on the test run's own NATS when `npm test` set
 * `NATS_URL`.
 */
export async function startTestService<C extends BaseServiceConfig>(
  servicesDir: string,
  context: ShopContext,
  load: (source: NodeJS.ProcessEnv) => C,
  build: (deps: ServiceDeps<C>) => Promise<StartedParts>,
  options: TestServiceOptions = {},
): Promise<TestService> {
  const serviceDir = path.join(servicesDir, context);
  const db = options.db ?? (await createTestDatabase(context, serviceDir));
  const prefix = envPrefix(context);
  const config = load({
    [`${prefix}_HOST`]: "127.0.0.1",
    [`${prefix}_PORT`]: "0",
    [`${prefix}_METRICS_PORT`]: "0",
    [`${prefix}_DATABASE_URL`]: db.url,
    LOG_LEVEL: "silent",
    // Test files run in parallel, several whole systems at once, on one PostgreSQL.
    DATABASE_POOL_SIZE: "3",
    ...(process.env.NATS_URL ? { NATS_URL: process.env.NATS_URL } : {}),
    ...credentialsEnv(context),
    ...options.env,
  });
  const running = await startService({ context, serviceDir, config, start: build });
  return {
    context,
    running,
    address: running.grpc.address,
    db,
    async stop() {
      await running.stop();
      if (!options.db) await db.drop();
    },
  };
}
