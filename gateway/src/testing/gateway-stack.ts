import path from "node:path";
import type { ShopContext } from "@shop/contracts";
import { type BaseServiceConfig, envPrefix, type RunningService, type ServiceDeps, type StartedParts, startService } from "@shop/runtime";
import { createTestDatabase, credentialsEnv, type TestDatabase } from "@shop/runtime/testing";
import { loadCatalogConfig } from "../../../services/catalog/src/config.js";
import { buildCatalog } from "../../../services/catalog/src/server.js";
import { loadInventoryConfig } from "../../../services/inventory/src/config.js";
import { buildInventory } from "../../../services/inventory/src/server.js";
import { loadUsersConfig } from "../../../services/users/src/config.js";
import { buildUsers } from "../../../services/users/src/server.js";
import type { GatewayDeps } from "../server.js";
import { closedAddress, type RunningGateway, startGateway } from "./running-gateway.js";

const servicesDir = path.resolve(import.meta.dirname, "../../../services");

export const adminCredentials = { email: "admin@shop.local", password: "admin-password" };

interface InProcessService {
  service: RunningService;
  db: TestDatabase;
}

async function startInProcess<C extends BaseServiceConfig>(
  context: ShopContext,
  load: (source: NodeJS.ProcessEnv) => C,
  build: (deps: ServiceDeps<C>) => Promise<StartedParts>,
  env: Record<string, string> = {},
): Promise<InProcessService> {
  const serviceDir = path.join(servicesDir, context);
  const db = await createTestDatabase(context, serviceDir);
  const prefix = envPrefix(context);
  const config = load({
    [`${prefix}_HOST`]: "127.0.0.1",
    [`${prefix}_PORT`]: "0",
    [`${prefix}_METRICS_PORT`]: "0",
    [`${prefix}_DATABASE_URL`]: db.url,
    LOG_LEVEL: "silent",
    ...credentialsEnv(context),
    ...env,
  });
  return { service: await startService({ context, serviceDir, config, start: build }), db };
}

export interface Customer {
  id: string;
  email: string;
  token: string;
}

export interface GatewayStack extends RunningGateway {
  /** Where each upstream of the gateway listens. */
  addresses: Record<ShopContext, string>;
  adminToken: string;
  /** Registers a new customer through the gateway and signs them in. */
  customer(): Promise<Customer>;
  /** Another gateway (another replica, or one with other settings) in front of the same or other upstreams. */
  startGateway(options?: {
    env?: Record<string, string>;
    upstreams?: Partial<Record<ShopContext, string>>;
    deps?: GatewayDeps;
  }): Promise<RunningGateway>;
  stop(): Promise<void>;
}

let customers = 0;

/**
 * The users, catalog and inventory services in this process on fresh databases, and a gateway
 * on port 0 in front of them. Upstreams not started here point at `closedAddress` unless
 * `upstreams` says otherwise.
 */
export async function startGatewayStack(
  options: { gatewayEnv?: Record<string, string>; upstreams?: Partial<Record<ShopContext, string>> } = {},
): Promise<GatewayStack> {
  const [users, catalog, inventory] = await Promise.all([
    startInProcess("users", loadUsersConfig, buildUsers, {
      ADMIN_EMAIL: adminCredentials.email,
      ADMIN_PASSWORD: adminCredentials.password,
    }),
    startInProcess("catalog", loadCatalogConfig, buildCatalog, { SEED_DEMO_DATA: "true" }),
    startInProcess("inventory", loadInventoryConfig, buildInventory, { SEED_DEMO_DATA: "true" }),
  ]);
  const addresses: Record<ShopContext, string> = {
    users: users.service.grpc.address,
    catalog: catalog.service.grpc.address,
    inventory: inventory.service.grpc.address,
    orders: closedAddress,
    payments: closedAddress,
    shipping: closedAddress,
    notifications: closedAddress,
    ...options.upstreams,
  };
  const main = await startGateway(addresses, options.gatewayEnv);
  const others: RunningGateway[] = [];

  const signIn = async (email: string, password: string): Promise<string> => {
    const reply = await main.request("POST", "/v1/auth/token", { body: { email, password } });
    if (reply.status !== 200) throw new Error(`sign-in of ${email} failed: ${reply.status} ${JSON.stringify(reply.body)}`);
    return reply.body.accessToken as string;
  };

  return {
    ...main,
    addresses,
    adminToken: await signIn(adminCredentials.email, adminCredentials.password),
    async customer() {
      customers += 1;
      const email = `customer-${process.pid}-${Date.now()}-${customers}@example.com`;
      const password = "correct horse battery";
      const registered = await main.request("POST", "/v1/users", { body: { email, name: `Customer ${customers}`, password } });
      if (registered.status !== 200) throw new Error(`registration failed: ${registered.status} ${JSON.stringify(registered.body)}`);
      return { id: registered.body.user.id as string, email, token: await signIn(email, password) };
    },
    async startGateway(extra = {}) {
      const started = await startGateway({ ...addresses, ...extra.upstreams }, extra.env, extra.deps);
      others.push(started);
      return started;
    },
    async stop() {
      await Promise.all([main, ...others].map((running) => running.gateway.shutdown()));
      await Promise.all(
        [users, catalog, inventory].map(async ({ service, db }) => {
          await service.stop();
          await db.drop();
        }),
      );
    },
  };
}
