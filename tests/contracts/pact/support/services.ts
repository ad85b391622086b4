import path from "node:path";
import type { ShopContext } from "@shop/contracts";
import {
  type BaseServiceConfig,
  createLogger,
  createSqlDatabase,
  envPrefix,
  type Logger,
  type ServiceDeps,
  type ServiceRegistration,
  type SqlDatabase,
  type StartedParts,
} from "@shop/runtime";
import {
  createTestDatabase,
  credentialsEnv,
  type TestService as RuntimeTestService,
  startTestService as startInProcess,
  testNatsUrl,
} from "@shop/runtime/testing";
import { loadCatalogConfig } from "../../../../services/catalog/src/config.js";
import { buildCatalog } from "../../../../services/catalog/src/server.js";
import { loadInventoryConfig } from "../../../../services/inventory/src/config.js";
import { buildInventory } from "../../../../services/inventory/src/server.js";
import { loadNotificationsConfig } from "../../../../services/notifications/src/config.js";
import { buildNotifications } from "../../../../services/notifications/src/server.js";
import { loadOrdersConfig } from "../../../../services/orders/src/config.js";
import { buildOrders } from "../../../../services/orders/src/server.js";
import { loadPaymentsConfig } from "../../../../services/payments/src/config.js";
import { buildPayments } from "../../../../services/payments/src/server.js";
import { loadShippingConfig } from "../../../../services/shipping/src/config.js";
import { buildShipping } from "../../../../services/shipping/src/server.js";
import { loadUsersConfig } from "../../../../services/users/src/config.js";
import { buildUsers } from "../../../../services/users/src/server.js";

const servicesDir = path.resolve(import.meta.dirname, "../../../../services");
const sharedNatsUrl = testNatsUrl();

interface ServiceDefinition<C extends BaseServiceConfig> {
  load(source: NodeJS.ProcessEnv): C;
  build(deps: ServiceDeps<C>): Promise<StartedParts>;
  env?: NodeJS.ProcessEnv;
}

/** A service definition with its config type hidden, so one table can hold them all. */
interface Buildable {
  configure(source: NodeJS.ProcessEnv): { config: BaseServiceConfig; build(logger: Logger, db: SqlDatabase): Promise<StartedParts> };
  start(env: NodeJS.ProcessEnv): Promise<RuntimeTestService>;
}

const define = <C extends BaseServiceConfig>(context: ShopContext, { load, build, env }: ServiceDefinition<C>): Buildable => ({
  configure(source) {
    const config = load({ ...credentialsEnv(context), ...env, ...source });
    return { config, build: (logger, db) => build({ config, logger, db }) };
  },
  start: (extra) => startInProcess(servicesDir, context, load, build, { env: { ...env, ...extra } as Record<string, string> }),
});

const definitions: Record<ShopContext, Buildable> = {
  users: define("users", {
    load: loadUsersConfig,
    build: buildUsers,
    env: { ADMIN_EMAIL: "admin@pact.test", ADMIN_PASSWORD: "pact-admin-password" },
  }),
  catalog: define("catalog", { load: loadCatalogConfig, build: buildCatalog, env: { SEED_DEMO_DATA: "false" } }),
  inventory: define("inventory", { load: loadInventoryConfig, build: buildInventory, env: { SEED_DEMO_DATA: "false" } }),
  payments: define("payments", { load: loadPaymentsConfig, build: buildPayments }),
  shipping: define("shipping", { load: loadShippingConfig, build: buildShipping }),
  // A loaded test machine may need more than the default 5 s to settle a cancellation in the call.
  orders: define("orders", { load: loadOrdersConfig, build: buildOrders, env: { ORDER_CANCEL_WAIT_MS: "15000" } }),
  notifications: define("notifications", { load: loadNotificationsConfig, build: buildNotifications }),
};

function baseEnv(context: ShopContext, databaseUrl: string): NodeJS.ProcessEnv {
  const prefix = envPrefix(context);
  return {
    [`${prefix}_HOST`]: "127.0.0.1",
    [`${prefix}_PORT`]: "0",
    [`${prefix}_METRICS_PORT`]: "0",
    [`${prefix}_DATABASE_URL`]: databaseUrl,
    NATS_URL: sharedNatsUrl,
    LOG_LEVEL: "silent",
  };
}

export interface TestService {
  context: ShopContext;
  /** `host:port` of its gRPC server. */
  address: string;
  databaseUrl: string;
  stop(): Promise<void>;
}

/**
 * Starts a service in this process as `npm start` would, on port 0 with a fresh database of its
 * own. Services with durable event consumers (orders, notifications) belong on a NATS server of
 * their own (`env.NATS_URL`, see stack.ts), so they neither take a running system's events nor
 * wade through what other runs published.
 */
export async function startTestService(context: ShopContext, env: NodeJS.ProcessEnv = {}): Promise<TestService> {
  const service = await definitions[context].start({ NATS_URL: sharedNatsUrl, ...env });
  return { context, address: service.address, databaseUrl: service.db.url, stop: () => service.stop() };
}

export interface TestProvider {
  /** The service's handlers exactly as its build function registers them. */
  registration: ServiceRegistration;
  databaseUrl: string;
  stop(): Promise<void>;
}

/** Builds a service's handlers over a fresh database of its own, without serving them. */
export async function buildTestProvider(context: ShopContext): Promise<TestProvider> {
  const database = await createTestDatabase(context, path.join(servicesDir, context));
  const db = createSqlDatabase(database.url, { poolSize: 3 });
  try {
    const { build } = definitions[context].configure(baseEnv(context, database.url));
    const parts = await build(createLogger(context, "silent"), db);
    const [registration] = parts.registrations;
    if (!registration) throw new Error(`${context} registers no service`);
    return {
      registration,
      databaseUrl: database.url,
      async stop() {
        await parts.stop?.();
        await db.close();
        await database.drop();
      },
    };
  } catch (err) {
    await db.close();
    await database.drop();
    throw err;
  }
}
