import { execFile } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import path from "node:path";
import { promisify } from "node:util";
import { create, type DescMessage, equals, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import { timestampMs } from "@bufbuild/protobuf/wkt";
import { OrderConfirmedSchema, OrderPlacedSchema } from "@shop/contracts/shop/orders/v1/events_pb.js";
import { type Order, OrderSchema, OrderStatus } from "@shop/contracts/shop/orders/v1/orders_pb.js";
import { createSqlDatabase, ensureStreams, eventHeaders, newEventId, streamName } from "@shop/runtime";
import { callerHeaders, createTestDatabase, type TestDatabase, waitFor } from "@shop/runtime/testing";
import { headers as natsHeaders } from "nats";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OrderHistoryRepository } from "./db/order-history.js";
import { rebuildOrderHistory } from "./events/order-history-rebuild.js";
import { type CheckoutStack, startCheckoutStack } from "./testing/checkout-stack.js";

const run = promisify(execFile);
const serviceDir = path.resolve(import.meta.dirname, "..");
const address = {
  recipient: "Grace Hopper",
  line1: "1 Harbor Way",
  line2: "Unit 2",
  city: "Arlington",
  postalCode: "22201",
  countryCode: "US",
};

let stack: CheckoutStack;
let copy: TestDatabase;
const shopper = randomUUID();
const bystander = randomUUID();
const placed: string[] = [];

async function listAll(userId: string, pageSize: number): Promise<Order[]> {
  const orders: Order[] = [];
  let pageToken = "";
  do {
    const page = await stack.orders.listOrders({ pageSize, pageToken }, { headers: callerHeaders(userId) });
    expect(page.orders.length).toBeLessThanOrEqual(pageSize);
    orders.push(...page.orders);
    pageToken = page.nextPageToken;
  } while (pageToken);
  return orders;
}

async function historyRows(databaseUrl: string, orderIds: string[]) {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query(
      `SELECT order_id, user_id, status, priced, "order", create_time, update_time FROM order_history WHERE order_id = ANY($1::uuid[]) ORDER BY order_id`,
      [orderIds],
    );
    return rows;
  } finally {
    await client.end();
  }
}

beforeAll(async () => {
  stack = await startCheckoutStack();
  const product = await stack.addProduct({ priceMinor: 1999n, stock: 50, name: "Notebook" });
  for (const paymentToken of ["tok_visa", "tok_decline", "tok_visa", "tok_visa"]) {
    const { order } = await stack.orders.placeOrder(
      { items: [{ productId: product, quantity: 2 }], shippingAddress: address, paymentToken },
      { headers: callerHeaders(shopper) },
    );
    placed.push(order!.id);
  }
  const { order } = await stack.orders.placeOrder(
    { items: [{ productId: product, quantity: 1 }], shippingAddress: address, paymentToken: "tok_visa" },
    { headers: callerHeaders(bystander) },
  );
  placed.push(order!.id);
  // A cancelled confirmed order exercises CONFIRMED followed by CANCELLED in the history.
  await waitFor(
    async () => (await stack.orders.getOrder({ orderId: placed[3]! }, { headers: callerHeaders(shopper) })).order!.status,
    (status) => status === OrderStatus.CONFIRMED,
    { timeoutMs: 20_000 },
  );
  await stack.orders.cancelOrder({ orderId: placed[3]! }, { headers: callerHeaders(shopper) });
});

afterAll(async () => {
  await stack?.stop();
  await copy?.drop();
});

describe("order history read model", () => {
  it("lists the caller's orders newest first, exactly as GetOrder shows them once the events are in", async () => {
    // The last one was confirmed, then cancelled by its customer.
    const finalStatus = (index: number) => (order: Order) =>
      index === 3 ? order.status === OrderStatus.CANCELLED : order.status !== OrderStatus.PENDING;
    const live = await Promise.all(
      placed.slice(0, 4).map(async (orderId, index) =>
        waitFor(async () => (await stack.orders.getOrder({ orderId }, { headers: callerHeaders(shopper) })).order!, finalStatus(index), {
          timeoutMs: 20_000,
        }),
      ),
    );
    const createdMs = (order: Order) => timestampMs(order.createTime!);
    const newestFirst = [...live].sort((a, b) => createdMs(b) - createdMs(a) || b.id.localeCompare(a.id));
    const listed = await waitFor(
      () => listAll(shopper, 100),
      (orders) => orders.length === 4 && orders.every((order, i) => equals(OrderSchema, order, newestFirst[i]!)),
      { timeoutMs: 20_000, what: "the history to show the orders as GetOrder does" },
    );
    expect(listed).toEqual(newestFirst);
    expect(listed.map((o) => [o.status, o.cancellationReason]).sort()).toEqual(
      [
        [OrderStatus.CONFIRMED, ""],
        [OrderStatus.CONFIRMED, ""],
        [OrderStatus.CANCELLED, "PAYMENT_DECLINED"],
        [OrderStatus.CANCELLED, "CUSTOMER_REQUESTED"],
      ].sort(),
    );
  });

  it("pages through the history exactly once with page tokens and shows nobody else's orders", async () => {
    const all = await listAll(shopper, 100);
    expect(await listAll(shopper, 3)).toEqual(all);
    expect(await listAll(shopper, 1)).toEqual(all);
    const theirs = await waitFor(
      () => listAll(bystander, 10),
      (orders) => orders.length === 1,
      { timeoutMs: 20_000 },
    );
    expect(theirs.map((o) => o.id)).toEqual([placed[4]]);
    expect(await listAll(randomUUID(), 10)).toEqual([]);
  });

  // The replay reads the whole shared stream, every earlier run's events included.
  it("rebuilds to the same rows by replaying the orders stream (rebuild command on a copy)", { timeout: 180_000 }, async () => {
    await waitFor(
      () => listAll(bystander, 10),
      (orders) => orders[0]?.status === OrderStatus.CONFIRMED,
      { timeoutMs: 20_000 },
    );
    const liveRows = await historyRows(stack.ordersDatabaseUrl, placed);
    expect(liveRows).toHaveLength(placed.length);

    copy = await createTestDatabase("orders", serviceDir);
    const { stdout, stderr } = await run(process.execPath, ["--import", "tsx", path.join(serviceDir, "src/rebuild-order-history.ts")], {
      cwd: serviceDir,
      env: {
        ...process.env,
        ORDERS_DATABASE_URL: copy.url,
        ORDER_HISTORY_CONSUMER: `orders-history-rebuild-${randomBytes(4).toString("hex")}`,
        LOG_LEVEL: "info",
      },
    });
    expect(stderr).toBe("");
    expect(stdout).toContain("order history rebuilt");
    expect(await historyRows(copy.url, placed)).toEqual(liveRows);
  });
});

describe("order history rebuild", () => {
  it("applies every event it can and reports, without stopping, the ones the live consumer would dead-letter", async () => {
    // A private stream, so the replay sees exactly the events published here.
    const context = `orders_rebuild_${randomBytes(4).toString("hex")}`;
    const jsm = await stack.nc.jetstreamManager();
    await ensureStreams(jsm, [context]);
    const js = stack.nc.jetstream();
    const publish = async <S extends DescMessage>(schema: S, message: MessageInitShape<S>, eventId = newEventId()) => {
      const headers = natsHeaders();
      headers.set(eventHeaders.messageId, eventId);
      headers.set(eventHeaders.type, schema.typeName);
      await js.publish(`shop.${context}.event`, toBinary(schema, create(schema, message)), { msgID: eventId, headers });
      return eventId;
    };
    const orderId = randomUUID();
    const userId = randomUUID();
    const at = { seconds: 1_800_000_000n, nanos: 0 };
    await publish(OrderPlacedSchema, {
      orderId,
      userId,
      items: [{ productId: randomUUID(), quantity: 1 }],
      shippingAddress: address,
      occurTime: at,
    });
    const notAnOrder = await publish(OrderPlacedSchema, { orderId: "not-a-uuid", userId, occurTime: at });
    await publish(OrderConfirmedSchema, { orderId, userId, total: { currencyCode: "USD", amountMinor: 1999n }, occurTime: at });

    const scratch = await createTestDatabase("orders", serviceDir);
    const db = createSqlDatabase(scratch.url, { poolSize: 2 });
    try {
      const result = await rebuildOrderHistory({
        nc: stack.nc,
        db,
        history: new OrderHistoryRepository(db),
        consumerName: "orders-history",
        stream: streamName(context),
      });
      expect(result.applied).toBe(2);
      expect(result.skipped).toEqual([{ eventId: notAnOrder, type: OrderPlacedSchema.typeName, error: expect.stringContaining("uuid") }]);
      const rows = await db.query<{ order_id: string; status: string; priced: boolean }>(
        "SELECT order_id, status, priced FROM order_history",
      );
      expect(rows.map((row) => [row.order_id, row.status, row.priced])).toEqual([[orderId, "CONFIRMED", false]]);
    } finally {
      await db.close();
      await scratch.drop();
      await jsm.streams.delete(streamName(context));
    }
  });
});
