import { randomBytes, randomUUID } from "node:crypto";
import { fromBinary } from "@bufbuild/protobuf";
import { OrderPlacedSchema } from "@shop/contracts/shop/orders/v1/events_pb.js";
import { OrderService } from "@shop/contracts/shop/orders/v1/orders_pb.js";
import {
  createLogger,
  createSqlDatabase,
  currentContext,
  type EventConsumer,
  eventHeaders,
  eventSubject,
  metadataKeys,
  onEvent,
  type RequestContext,
  type ServiceRegistration,
  type SqlDatabase,
  startEventConsumer,
  streamName,
} from "@shop/runtime";
import { waitFor } from "@shop/runtime/testing";
import { AckPolicy, connect, DeliverPolicy, type JsMsg, type NatsConnection, nanos } from "nats";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ErrorJson, type OrderJson, ShopApi, shippingAddress } from "./support/shop-api.js";
import { adminAccount, caughtUp, natsUrl, type ShopSystem, startShopSystem } from "./support/shop-system.js";

/** The work context a hop ran in, and when it was seen. */
interface Sighting {
  context: RequestContext | undefined;
  at: number;
}

interface HandledEvent {
  orderId: string;
  eventId: string;
  context: RequestContext | undefined;
}

interface OutboxRow {
  id: string;
  payload: Uint8Array;
  headers: Record<string, string>;
  created_at: Date;
  sent_at: Date | null;
}

const placeOrderArrivals: Sighting[] = [];
const handledEvents: HandledEvent[] = [];

/** Orders as it serves, with each PlaceOrder call's context recorded the moment it arrives. */
function observePlaceOrder(registration: ServiceRegistration): ServiceRegistration {
  if (registration.service !== OrderService) return registration;
  const { impl } = registration;
  return {
    ...registration,
    impl: {
      ...impl,
      placeOrder(request, ctx) {
        placeOrderArrivals.push({ context: currentContext(), at: Date.now() });
        return impl.placeOrder!(request, ctx);
      },
    },
  };
}

let system: ShopSystem;
let api: ShopApi;
let nc: NatsConnection;
let ordersDb: SqlDatabase;
let testConsumer: EventConsumer;
const testConsumerName = `e2e_propagation_${randomBytes(4).toString("hex")}`;
let customerToken: string;
let productId: string;

beforeAll(async () => {
  system = await startShopSystem({ wrapOrders: observePlaceOrder });
  api = new ShopApi(system.gatewayUrl);
  productId = await api.createProduct(await api.signIn(adminAccount.email, adminAccount.password), {
    name: "Trace Lantern",
    priceMinor: 1_500,
    stock: 10,
  });
  customerToken = (await api.registerCustomer("Tracy")).token;
  nc = await connect({ servers: natsUrl });
  // The orders test database is this run's own; the test consumer's inbox rows sit there under its own name.
  ordersDb = createSqlDatabase(system.ordersDatabaseUrl, { poolSize: 2 });
  testConsumer = await startEventConsumer({
    nc,
    db: ordersDb,
    logger: createLogger("e2e-propagation", "silent"),
    consumerName: testConsumerName,
    context: "orders",
    filterSubject: eventSubject(OrderPlacedSchema),
    handlers: {
      [OrderPlacedSchema.typeName]: onEvent(OrderPlacedSchema, async (event, _tx, meta) => {
        handledEvents.push({ orderId: event.orderId, eventId: meta.eventId, context: currentContext() });
      }),
    },
  });
  await caughtUp([{ stream: streamName("orders"), name: testConsumerName }]);
}, 180_000);

afterAll(async () => {
  await testConsumer?.stop();
  if (nc) {
    await (await nc.jetstreamManager()).consumers.delete(streamName("orders"), testConsumerName).catch(() => false);
    await nc.close();
  }
  await ordersDb?.close();
  await system?.stop();
});

const traceIdOf = (traceparent: string | undefined) => traceparent?.split("-")[1];

function placeOrder<T = { order: OrderJson }>(headers: Record<string, string>) {
  return api.request<T>("POST", "/v1/orders", {
    token: customerToken,
    body: { items: [{ productId, quantity: 1 }], shippingAddress, paymentToken: "tok_visa" },
    headers,
  });
}

/** The OrderPlaced row orders wrote to its outbox for `orderId`, once the relay has published it. */
function publishedOutboxRow(orderId: string): Promise<OutboxRow> {
  const probe = async () => {
    const rows = await ordersDb.query<OutboxRow>("SELECT id, payload, headers, created_at, sent_at FROM outbox_events WHERE type = $1", [
      OrderPlacedSchema.typeName,
    ]);
    return rows.find((row) => fromBinary(OrderPlacedSchema, row.payload).orderId === orderId);
  };
  return waitFor(probe, (row) => row?.sent_at != null, {
    what: `the OrderPlaced outbox row of order ${orderId} to be published`,
  }) as Promise<OutboxRow>;
}

/**
 * The message JetStream holds for event `eventId`, read with an ephemeral consumer on the
 * OrderPlaced subject starting just before the event was written.
 */
async function streamMessage(eventId: string, writtenAt: Date): Promise<JsMsg> {
  const stream = streamName("orders");
  const jsm = await nc.jetstreamManager();
  const { name } = await jsm.consumers.add(stream, {
    ack_policy: AckPolicy.None,
    filter_subject: eventSubject(OrderPlacedSchema),
    deliver_policy: DeliverPolicy.StartTime,
    opt_start_time: new Date(writtenAt.getTime() - 1_000).toISOString(),
    inactive_threshold: nanos(30_000),
  });
  try {
    const consumer = await nc.jetstream().consumers.get(stream, name);
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      const message = await consumer.next({ expires: 1_000 });
      if (message?.headers?.get(eventHeaders.messageId) === eventId) return message;
    }
    throw new Error(`no message with ${eventHeaders.messageId} ${eventId} on ${eventSubject(OrderPlacedSchema)}`);
  } finally {
    await jsm.consumers.delete(stream, name).catch(() => false);
  }
}

function handledEventOf(orderId: string): Promise<HandledEvent> {
  return waitFor(
    () => handledEvents.find((handled) => handled.orderId === orderId),
    (handled) => handled !== undefined,
    { timeoutMs: 20_000, what: `the test consumer to handle the OrderPlaced event of order ${orderId}` },
  ) as Promise<HandledEvent>;
}

describe("what travels with the work: gateway -> gRPC -> outbox -> NATS -> consumer", () => {
  it("keeps the correlation id, trace context and idempotency key at every hop, and the deadline up to the outbox", async () => {
    const correlationId = `e2e-${randomUUID()}`;
    const traceId = randomBytes(16).toString("hex");
    const traceparent = `00-${traceId}-${randomBytes(8).toString("hex")}-01`;
    const tracestate = "shop=e2e";
    const idempotencyKey = `propagation-${randomUUID()}`;
    // Well under the gateway's own cap (10 s), so a dropped timeout shows as a larger budget.
    const requestTimeoutMs = 4_000;

    const reply = await placeOrder({
      "x-request-id": correlationId,
      traceparent,
      tracestate,
      "idempotency-key": idempotencyKey,
      "x-request-timeout": String(requestTimeoutMs),
    });
    expect(reply.status, JSON.stringify(reply.body)).toBe(200);
    const orderId = reply.body.order.id;

    // (a) The gateway answers with the client's request id.
    expect(reply.headers.get("x-request-id")).toBe(correlationId);

    // (b) Orders serves the call in the client's correlation id, trace and idempotency key, with
    // no more time left than the client granted. gRPC sends a deadline as a relative timeout, so
    // what holds at every hop is that the remaining budget never grows.
    const arrivals = placeOrderArrivals.filter((arrival) => arrival.context?.correlationId === correlationId);
    expect(arrivals).toHaveLength(1);
    const [{ context: served, at: arrivedAt }] = arrivals as [Sighting];
    expect(served).toMatchObject({ correlationId, tracestate, idempotencyKey });
    expect(traceIdOf(served!.traceparent)).toBe(traceId);
    expect(served!.deadline).toBeDefined();
    const remainingAtOrders = served!.deadline! - arrivedAt;
    expect(remainingAtOrders).toBeGreaterThan(0);
    expect(remainingAtOrders).toBeLessThanOrEqual(requestTimeoutMs);

    // (c) The outbox row keeps them for the relay. The deadline stops here: publishing and
    // consuming are asynchronous work with deadlines of their own, so no deadline is stored.
    const row = await publishedOutboxRow(orderId);
    expect(row.headers).toEqual({
      [metadataKeys.correlationId]: correlationId,
      [metadataKeys.traceparent]: expect.stringMatching(new RegExp(`^00-${traceId}-[0-9a-f]{16}-[0-9a-f]{2}$`)),
      [metadataKeys.tracestate]: tracestate,
      [metadataKeys.idempotencyKey]: idempotencyKey,
    });

    // (d) The JetStream message carries them as NATS headers.
    const message = await streamMessage(row.id, row.created_at);
    expect(message.subject).toBe("shop.orders.order_placed");
    expect(message.headers!.get(metadataKeys.correlationId)).toBe(correlationId);
    expect(traceIdOf(message.headers!.get(metadataKeys.traceparent))).toBe(traceId);
    expect(message.headers!.get(metadataKeys.tracestate)).toBe(tracestate);
    expect(message.headers!.get(metadataKeys.idempotencyKey)).toBe(idempotencyKey);
    expect(message.headers!.keys().filter((key) => /timeout|deadline/i.test(key))).toEqual([]);

    // (e) A consumer's handler runs in the same correlation id, trace and idempotency key.
    const handled = await handledEventOf(orderId);
    expect(handled.eventId).toBe(row.id);
    expect(handled.context).toMatchObject({ correlationId, tracestate, idempotencyKey });
    expect(traceIdOf(handled.context!.traceparent)).toBe(traceId);
    expect(handled.context!.deadline).toBeUndefined();
  });

  it("gives a request without X-Request-Id a correlation id at the gateway, which then travels, and honours grpc-timeout", async () => {
    const reply = await placeOrder({ "idempotency-key": `propagation-${randomUUID()}`, "grpc-timeout": "2500m" });
    expect(reply.status, JSON.stringify(reply.body)).toBe(200);
    const correlationId = reply.headers.get("x-request-id");
    expect(correlationId).toMatch(/^[0-9a-f-]{36}$/);

    const arrival = placeOrderArrivals.find((seen) => seen.context?.correlationId === correlationId);
    expect(arrival).toBeDefined();
    const remainingAtOrders = arrival!.context!.deadline! - arrival!.at;
    expect(remainingAtOrders).toBeGreaterThan(0);
    expect(remainingAtOrders).toBeLessThanOrEqual(2_500);

    const row = await publishedOutboxRow(reply.body.order.id);
    expect(row.headers[metadataKeys.correlationId]).toBe(correlationId);
    const handled = await handledEventOf(reply.body.order.id);
    expect(handled.context?.correlationId).toBe(correlationId);
  });

  it("refuses a malformed request timeout naming the header, before anything reaches orders", async () => {
    const correlationId = `e2e-${randomUUID()}`;
    for (const [header, value] of [
      ["x-request-timeout", "soon"],
      ["grpc-timeout", "5 seconds"],
    ] as const) {
      const reply = await placeOrder<ErrorJson>({ "x-request-id": correlationId, [header]: value });
      expect(reply.status).toBe(400);
      expect(reply.body.code).toBe("invalid_argument");
      expect(reply.body.message).toContain(header === "grpc-timeout" ? "grpc-timeout" : "X-Request-Timeout");
      expect(reply.headers.get("x-request-id")).toBe(correlationId);
    }
    expect(placeOrderArrivals.filter((arrival) => arrival.context?.correlationId === correlationId)).toEqual([]);
  });
});
