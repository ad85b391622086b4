import { randomBytes } from "node:crypto";
import path from "node:path";
import type { DescService } from "@bufbuild/protobuf";
import type { Client } from "@connectrpc/connect";
import type { ShopContext } from "@shop/contracts";
import { CatalogService } from "@shop/contracts/shop/catalog/v1/catalog_pb.js";
import { InventoryService } from "@shop/contracts/shop/inventory/v1/inventory_pb.js";
import { OrderService } from "@shop/contracts/shop/orders/v1/orders_pb.js";
import { PaymentService } from "@shop/contracts/shop/payments/v1/payments_pb.js";
import { ShippingService } from "@shop/contracts/shop/shipping/v1/shipping_pb.js";
import { type BaseServiceConfig, createServiceClient, ensureStreams, type ServiceDeps, type StartedParts, streamName } from "@shop/runtime";
import {
  adminHeaders,
  createTestDatabase,
  serviceCredential,
  startTestService,
  type TestDatabase,
  type TestService,
  testNatsUrl,
  waitFor,
} from "@shop/runtime/testing";
import { AckPolicy, connect, DeliverPolicy, type NatsConnection } from "nats";
import { loadCatalogConfig } from "../../../catalog/src/config.js";
import { buildCatalog } from "../../../catalog/src/server.js";
import { loadInventoryConfig } from "../../../inventory/src/config.js";
import { buildInventory } from "../../../inventory/src/server.js";
import { loadPaymentsConfig } from "../../../payments/src/config.js";
import { buildPayments } from "../../../payments/src/server.js";
import { loadShippingConfig } from "../../../shipping/src/config.js";
import { buildShipping } from "../../../shipping/src/server.js";
import { loadOrdersConfig } from "../config.js";
import { buildOrders, type OrdersOverrides } from "../server.js";

const servicesDir = path.resolve(import.meta.dirname, "../../..");
const ordersDir = path.join(servicesDir, "orders");

type ServiceClient<S extends DescService> = Client<S> & { close(): void };

const startInProcess = <C extends BaseServiceConfig>(
  context: ShopContext,
  load: (source: NodeJS.ProcessEnv) => C,
  build: (deps: ServiceDeps<C>) => Promise<StartedParts>,
  env: Record<string, string> = {},
  db?: TestDatabase,
): Promise<TestService> => startTestService(servicesDir, context, load, build, { env, db });

export interface OrdersReplica {
  client: ServiceClient<typeof OrderService>;
  /** Stops it the way SIGTERM would. */
  stop(): Promise<void>;
}

export interface CheckoutStack {
  /** The client of the first orders replica. */
  orders: ServiceClient<typeof OrderService>;
  firstReplica: OrdersReplica;
  /** Where the services orders calls listen. */
  addresses: { catalog: string; inventory: string; payments: string; shipping: string };
  catalog: ServiceClient<typeof CatalogService>;
  inventory: ServiceClient<typeof InventoryService>;
  payments: ServiceClient<typeof PaymentService>;
  shipping: ServiceClient<typeof ShippingService>;
  ordersDatabaseUrl: string;
  /** The catalog's database, for products no API call can make (prices stored before a rule). */
  catalogDatabaseUrl: string;
  historyConsumer: string;
  nc: NatsConnection;
  /** Another orders replica on the same database. */
  startOrdersReplica(options?: { overrides?: OrdersOverrides; env?: Record<string, string> }): Promise<OrdersReplica>;
  /** A product in the catalog with `stock` units available for sale. */
  addProduct(options: { priceMinor: bigint; stock: number; currency?: string; name?: string }): Promise<string>;
  stop(): Promise<void>;
}

export const admin = { headers: adminHeaders() };

/**
 * The orders stream is shared by every test run on this NATS server, so a new durable
 * consumer would first apply all earlier runs' events. Acking that backlog up front starts
 * the history consumer where this run begins; the service then takes the consumer over.
 */
async function historyConsumerAtStreamEnd(nc: NatsConnection, consumerName: string): Promise<void> {
  const jsm = await nc.jetstreamManager();
  await ensureStreams(jsm, ["orders"]);
  const stream = streamName("orders");
  await jsm.consumers.add(stream, {
    durable_name: consumerName,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    filter_subject: "shop.orders.>",
  });
  const consumer = await nc.jetstream().consumers.get(stream, consumerName);
  let backlog = (await consumer.info()).num_pending;
  while (backlog > 0) {
    const messages = await consumer.fetch({ max_messages: Math.min(backlog, 1_000), expires: 2_000 });
    for await (const message of messages) {
      message.ack();
      backlog -= 1;
    }
  }
  await nc.flush();
  await waitFor(
    () => consumer.info(),
    (info) => info.num_ack_pending === 0,
    { what: "the history backlog to be acknowledged" },
  );
}

/**
 * The real checkout neighbourhood in this process: catalog, inventory, payments and shipping,
 * each on its own test database, and orders talking to them. The order history consumer gets
 * a durable name of its own, deleted at the end.
 */
export async function startCheckoutStack(
  options: { overrides?: OrdersOverrides; env?: Record<string, string> } = {},
): Promise<CheckoutStack> {
  const quiet = { SEED_DEMO_DATA: "false" };
  const [catalog, inventory, payments, shipping] = await Promise.all([
    startInProcess("catalog", loadCatalogConfig, buildCatalog, quiet),
    startInProcess("inventory", loadInventoryConfig, buildInventory, quiet),
    startInProcess("payments", loadPaymentsConfig, buildPayments),
    startInProcess("shipping", loadShippingConfig, buildShipping),
  ]);
  const ordersDb = await createTestDatabase("orders", ordersDir);
  const historyConsumer = `orders-history-test-${randomBytes(5).toString("hex")}`;
  const ordersEnv = {
    CATALOG_ADDR: catalog.address,
    INVENTORY_ADDR: inventory.address,
    PAYMENTS_ADDR: payments.address,
    SHIPPING_ADDR: shipping.address,
    ORDER_HISTORY_CONSUMER: historyConsumer,
    SAGA_POLL_MS: "100",
    ...options.env,
  };
  const nc = await connect({ servers: testNatsUrl() });
  await historyConsumerAtStreamEnd(nc, historyConsumer);
  const replicas: TestService[] = [];
  const clients: { close(): void }[] = [];
  // Orders is called by end users (each call says who); the others as orders calls them.
  const client = <S extends DescService>(service: S, address: string): ServiceClient<S> => {
    const credential = service === (OrderService as DescService) ? undefined : serviceCredential("orders");
    const created = createServiceClient(service, { address, credential });
    clients.push(created);
    return created;
  };

  const startOrdersReplica = async (
    replica: { overrides?: OrdersOverrides; env?: Record<string, string> } = {},
  ): Promise<OrdersReplica> => {
    const started = await startInProcess(
      "orders",
      loadOrdersConfig,
      (deps) => buildOrders(deps, replica.overrides),
      { ...ordersEnv, ...replica.env },
      ordersDb,
    );
    replicas.push(started);
    return { client: client(OrderService, started.address), stop: () => started.running.stop() };
  };

  const first = await startOrdersReplica(options);
  const stack: CheckoutStack = {
    orders: first.client,
    firstReplica: first,
    addresses: {
      catalog: ordersEnv.CATALOG_ADDR,
      inventory: ordersEnv.INVENTORY_ADDR,
      payments: ordersEnv.PAYMENTS_ADDR,
      shipping: ordersEnv.SHIPPING_ADDR,
    },
    catalog: client(CatalogService, catalog.address),
    inventory: client(InventoryService, inventory.address),
    payments: client(PaymentService, payments.address),
    shipping: client(ShippingService, shipping.address),
    ordersDatabaseUrl: ordersDb.url,
    catalogDatabaseUrl: catalog.db.url,
    historyConsumer,
    nc,
    startOrdersReplica,
    async addProduct({ priceMinor, stock, currency = "USD", name = "Product" }) {
      const sku = `SKU-${randomBytes(4).toString("hex").toUpperCase()}`;
      const price = { currencyCode: currency, amountMinor: priceMinor };
      const { product } = await stack.catalog.createProduct({ sku, name, description: "", price }, admin);
      await stack.inventory.setStock({ productId: product!.id, quantity: stock }, admin);
      return product!.id;
    },
    async stop() {
      for (const client of clients) client.close();
      for (const replica of replicas) await replica.running.stop();
      const jsm = await nc.jetstreamManager();
      await jsm.consumers.delete(streamName("orders"), historyConsumer).catch(() => false);
      await nc.close();
      await ordersDb.drop();
      await Promise.all([catalog, inventory, payments, shipping].map((service) => service.stop()));
    },
  };
  return stack;
}
