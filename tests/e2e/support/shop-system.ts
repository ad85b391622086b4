import { randomBytes } from "node:crypto";
import type { AddressInfo } from "node:net";
import path from "node:path";
import type { ShopContext } from "@shop/contracts";
import {
  type BaseServiceConfig,
  createLogger,
  envPrefix,
  type ServiceDeps,
  type ServiceRegistration,
  type StartedParts,
  streamName,
} from "@shop/runtime";
import { credentialsEnv, startTestService, type TestService, testNatsUrl, waitFor } from "@shop/runtime/testing";
import { connect } from "nats";
import { loadGatewayConfig } from "../../../gateway/src/config.js";
import { buildGateway, type GatewayServer } from "../../../gateway/src/server.js";
import { loadCatalogConfig } from "../../../services/catalog/src/config.js";
import { buildCatalog } from "../../../services/catalog/src/server.js";
import { loadInventoryConfig } from "../../../services/inventory/src/config.js";
import { buildInventory } from "../../../services/inventory/src/server.js";
import { loadNotificationsConfig } from "../../../services/notifications/src/config.js";
import { buildNotifications } from "../../../services/notifications/src/server.js";
import { loadOrdersConfig } from "../../../services/orders/src/config.js";
import { buildOrders } from "../../../services/orders/src/server.js";
import { loadPaymentsConfig } from "../../../services/payments/src/config.js";
import { buildPayments } from "../../../services/payments/src/server.js";
import { loadShippingConfig } from "../../../services/shipping/src/config.js";
import { buildShipping } from "../../../services/shipping/src/server.js";
import { loadUsersConfig } from "../../../services/users/src/config.js";
import { buildUsers } from "../../../services/users/src/server.js";

const servicesDir = path.resolve(import.meta.dirname, "../../../services");
export const natsUrl = testNatsUrl();

/** The development admin account the users service seeds. */
export const adminAccount = { email: "admin@e2e.shop.test", password: "e2e-admin-password" };

const notificationSources = ["orders", "shipping", "payments"];

export interface ShopSystemOptions {
  /** Wraps what orders serves, so a test can see each call as it arrives. */
  wrapOrders?: (registration: ServiceRegistration) => ServiceRegistration;
}

export interface ShopSystem {
  /** Base URL of the gateway, the only door an outside client has. */
  gatewayUrl: string;
  /** `host:port` of every service's gRPC server, for checks the public API cannot make. */
  addresses: Record<ShopContext, string>;
  ordersDatabaseUrl: string;
  stop(): Promise<void>;
}

/** `<CONTEXT>_ADDR` of each service, as orders and the gateway read where to call. */
function addressEnv(services: Partial<Record<ShopContext, TestService>>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(services).map(([context, service]) => [`${envPrefix(context as ShopContext)}_ADDR`, service.address]),
  );
}

/**
 * The whole shop in this process, as `npm start` wires it: the seven services, each on a fresh
 * database of its own and a free port, and the gateway in front of them on a free port. Durable
 * consumers get names private to this run (so a running system and other test files keep their
 * own positions on the shared streams) and are deleted on stop.
 */
export async function startShopSystem(options: ShopSystemOptions = {}): Promise<ShopSystem> {
  const runId = randomBytes(4).toString("hex");
  const durable = { orderHistory: `e2e_${runId}_order_history`, notifications: `e2e_${runId}_notifications` };
  // Shared by users (issues tokens) and the gateway (verifies them).
  const started: TestService[] = [];

  async function start<C extends BaseServiceConfig>(
    context: ShopContext,
    load: (source: NodeJS.ProcessEnv) => C,
    build: (deps: ServiceDeps<C>) => Promise<StartedParts>,
    env: Record<string, string> = {},
  ): Promise<TestService> {
    const service = await startTestService(servicesDir, context, load, build, { env: { NATS_URL: natsUrl, ...env } });
    started.push(service);
    return service;
  }

  let gateway: GatewayServer | undefined;
  const durableConsumers = [
    { stream: streamName("orders"), name: durable.orderHistory },
    ...notificationSources.map((context) => ({ stream: streamName(context), name: durable.notifications })),
  ];
  const stop = async () => {
    await gateway?.shutdown();
    // Last started first: orders' saga must not call services that are already gone.
    for (const service of [...started].reverse()) await service.stop();
    const nc = await connect({ servers: natsUrl });
    try {
      const jsm = await nc.jetstreamManager();
      for (const { stream, name } of durableConsumers) await jsm.consumers.delete(stream, name).catch(() => false);
    } finally {
      await nc.close();
    }
  };

  try {
    const quiet = { SEED_DEMO_DATA: "false" };
    const [users, catalog, inventory, payments, shipping, notifications] = await Promise.all([
      start("users", loadUsersConfig, buildUsers, { ADMIN_EMAIL: adminAccount.email, ADMIN_PASSWORD: adminAccount.password }),
      start("catalog", loadCatalogConfig, buildCatalog, quiet),
      start("inventory", loadInventoryConfig, buildInventory, quiet),
      start("payments", loadPaymentsConfig, buildPayments),
      start("shipping", loadShippingConfig, buildShipping),
      start("notifications", loadNotificationsConfig, (deps) =>
        buildNotifications(deps, { consumerName: durable.notifications, contexts: notificationSources }),
      ),
    ]);
    const orders = await start(
      "orders",
      loadOrdersConfig,
      async (deps) => {
        const parts = await buildOrders(deps);
        const wrap = options.wrapOrders;
        return wrap ? { ...parts, registrations: parts.registrations.map(wrap) } : parts;
      },
      {
        ...addressEnv({ catalog, inventory, payments, shipping }),
        ORDER_HISTORY_CONSUMER: durable.orderHistory,
        SAGA_POLL_MS: "100",
      },
    );
    const services: Record<ShopContext, TestService> = { users, catalog, inventory, payments, shipping, notifications, orders };

    gateway = await buildGateway(
      loadGatewayConfig({
        ...credentialsEnv("gateway"),
        GATEWAY_HOST: "127.0.0.1",
        GATEWAY_PORT: "0",
        // Tests poll through the gateway; the per-client limit is not what they exercise.
        GATEWAY_RATE_LIMIT_CAPACITY: "100000",
        GATEWAY_RATE_LIMIT_REFILL_PER_SECOND: "100000",
        NATS_URL: natsUrl,
        LOG_LEVEL: "silent",
        ...addressEnv(services),
      }),
      { logger: createLogger("gateway", "silent") },
    );
    await caughtUp(durableConsumers);
    const listening = gateway;
    await new Promise<void>((resolve) => listening.listen(0, "127.0.0.1", resolve));
    const { port } = listening.address() as AddressInfo;
    const addresses = Object.fromEntries(Object.entries(services).map(([context, service]) => [context, service.address]));
    return {
      gatewayUrl: `http://127.0.0.1:${port}`,
      addresses: addresses as Record<ShopContext, string>,
      ordersDatabaseUrl: orders.db.url,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/**
 * Waits until durable consumers have worked through what their streams held before this run
 * (a new durable starts at the beginning of its stream), so that a test waiting for an event's
 * effect waits for that event only.
 */
export async function caughtUp(consumers: { stream: string; name: string }[]): Promise<void> {
  const nc = await connect({ servers: natsUrl });
  try {
    const jsm = await nc.jetstreamManager();
    const backlog = async () => {
      const infos = await Promise.all(consumers.map(({ stream, name }) => jsm.consumers.info(stream, name)));
      return infos.reduce((sum, info) => sum + info.num_pending + info.num_ack_pending, 0);
    };
    await waitFor(backlog, (left) => left === 0, {
      timeoutMs: 120_000,
      intervalMs: 200,
      what: "the durable consumers to reach the end of their streams",
    });
  } finally {
    await nc.close();
  }
}
