import { randomUUID } from "node:crypto";
import path from "node:path";
import { fromBinary } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { ShipmentDispatchedSchema } from "@shop/contracts/shop/shipping/v1/events_pb.js";
import { ShipmentStatus, ShippingService } from "@shop/contracts/shop/shipping/v1/shipping_pb.js";
import { createServiceClient, createSqlDatabase, eventHeaders, type RunningService, type SqlDatabase, startService } from "@shop/runtime";
import {
  adminHeaders,
  callerHeaders,
  createTestDatabase,
  credentialsEnv,
  outboxEvents,
  serviceCredential,
  type TestDatabase,
  testNatsUrl,
} from "@shop/runtime/testing";
import { connect, type Msg } from "nats";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { loadShippingConfig } from "./config.js";
import { buildShipping } from "./server.js";

const serviceDir = path.resolve(import.meta.dirname, "..");
const natsUrl = process.env.NATS_URL;

let db: TestDatabase;
let inspect: SqlDatabase;
let service: RunningService;
/** Calls as the orders service does. */
let client: ReturnType<typeof createServiceClient<typeof ShippingService>>;
/** Dispatching is an admin's (the warehouse's) call. */
const warehouse = { headers: adminHeaders() };

beforeAll(async () => {
  db = await createTestDatabase("shipping", serviceDir);
  inspect = createSqlDatabase(db.url, { poolSize: 2 });
  const config = loadShippingConfig({
    ...credentialsEnv("shipping"),
    SHIPPING_HOST: "127.0.0.1",
    SHIPPING_PORT: "0",
    SHIPPING_METRICS_PORT: "0",
    SHIPPING_DATABASE_URL: db.url,
    NATS_URL: natsUrl,
    LOG_LEVEL: "silent",
  });
  service = await startService({ context: "shipping", serviceDir, config, start: buildShipping });
  client = createServiceClient(ShippingService, { address: service.grpc.address, credential: serviceCredential("orders") });
});

afterAll(async () => {
  client?.close();
  await service?.stop();
  await inspect?.close();
  await db?.drop();
});

const address = {
  recipient: "Ada Lovelace",
  line1: "12 St James's Square",
  line2: "",
  city: "London",
  postalCode: "SW1Y 4JH",
  countryCode: "GB",
};

const creation = () => ({ orderId: randomUUID(), userId: randomUUID(), address });

/** The outbox rows written for an order, oldest first, payloads decoded. */
const eventsOf = async (orderId: string) => (await outboxEvents(inspect)).filter((event) => event.payload.orderId === orderId);

const subjectsOf = async (orderId: string) => (await eventsOf(orderId)).map((event) => event.subject);

async function created() {
  const request = creation();
  const { shipment } = await client.createShipment(request);
  expect(shipment?.status).toBe(ShipmentStatus.CREATED);
  return { ...request, shipment: shipment! };
}

describe("creating shipments", () => {
  it("creates a shipment with a tracking number and writes ShipmentCreated with it", async () => {
    const request = creation();
    const { shipment } = await client.createShipment(request);
    expect(shipment).toMatchObject({ orderId: request.orderId, userId: request.userId, status: ShipmentStatus.CREATED, address });
    expect(shipment?.trackingNumber).toMatch(/^SHP-[A-Z2-7]{10}$/);
    expect(await eventsOf(request.orderId)).toEqual([
      {
        id: expect.any(String),
        subject: "shop.shipping.shipment_created",
        type: "shop.shipping.v1.ShipmentCreated",
        payload: expect.objectContaining({
          shipmentId: shipment!.id,
          orderId: request.orderId,
          userId: request.userId,
          trackingNumber: shipment!.trackingNumber,
          occurTime: shipment!.updateTime,
        }),
      },
    ]);
  });

  it("returns the same shipment on a repeat, with one event", async () => {
    const { shipment, ...request } = await created();
    const again = await client.createShipment({ ...request, address: { ...address, city: "Paris", countryCode: "FR" } });
    expect(again.shipment).toEqual(shipment);
    expect(await subjectsOf(request.orderId)).toEqual(["shop.shipping.shipment_created"]);
  });

  it("gives every order its own tracking number", async () => {
    const numbers = await Promise.all(Array.from({ length: 10 }, async () => (await created()).shipment.trackingNumber));
    expect(new Set(numbers).size).toBe(numbers.length);
  });

  it("applies concurrent creates of one order once", async () => {
    const request = creation();
    const results = await Promise.all(Array.from({ length: 6 }, () => client.createShipment(request)));
    expect(new Set(results.map((r) => r.shipment?.id)).size).toBe(1);
    expect(new Set(results.map((r) => r.shipment?.trackingNumber)).size).toBe(1);
    expect(await subjectsOf(request.orderId)).toEqual(["shop.shipping.shipment_created"]);
  });
});

describe("cancelling and dispatching", () => {
  it("cancels a created shipment once and then refuses to create it again", async () => {
    const { orderId, shipment } = await created();
    const cancelled = await client.cancelShipment({ orderId });
    expect(cancelled.shipment).toMatchObject({
      id: shipment.id,
      status: ShipmentStatus.CANCELLED,
      trackingNumber: shipment.trackingNumber,
    });
    expect((await client.cancelShipment({ orderId })).shipment).toEqual(cancelled.shipment);
    await expect(client.createShipment({ ...creation(), orderId })).rejects.toMatchObject({
      code: Code.FailedPrecondition,
      rawMessage: `shipment for order ${orderId} was cancelled`,
    });
    const events = await eventsOf(orderId);
    expect(events.map((e) => e.subject)).toEqual(["shop.shipping.shipment_created", "shop.shipping.shipment_cancelled"]);
    expect(events[1]).toMatchObject({
      type: "shop.shipping.v1.ShipmentCancelled",
      payload: { shipmentId: shipment.id, orderId, userId: shipment.userId, occurTime: cancelled.shipment?.updateTime },
    });
  });

  it("dispatches a created shipment once", async () => {
    const { orderId, shipment } = await created();
    const dispatched = await client.dispatchShipment({ orderId }, warehouse);
    expect(dispatched.shipment).toMatchObject({ id: shipment.id, status: ShipmentStatus.DISPATCHED });
    expect((await client.dispatchShipment({ orderId }, warehouse)).shipment).toEqual(dispatched.shipment);
    expect((await client.createShipment({ ...creation(), orderId })).shipment).toEqual(dispatched.shipment);
    const events = await eventsOf(orderId);
    expect(events.map((e) => e.subject)).toEqual(["shop.shipping.shipment_created", "shop.shipping.shipment_dispatched"]);
    expect(events[1]!.payload).toMatchObject({ shipmentId: shipment.id, trackingNumber: shipment.trackingNumber });
  });

  it("refuses to cancel a dispatched shipment", async () => {
    const { orderId } = await created();
    await client.dispatchShipment({ orderId }, warehouse);
    await expect(client.cancelShipment({ orderId })).rejects.toMatchObject({
      code: Code.FailedPrecondition,
      rawMessage: `shipment for order ${orderId} was already dispatched`,
    });
    expect(await subjectsOf(orderId)).toEqual(["shop.shipping.shipment_created", "shop.shipping.shipment_dispatched"]);
  });

  it("refuses to dispatch a cancelled shipment", async () => {
    const { orderId } = await created();
    await client.cancelShipment({ orderId });
    await expect(client.dispatchShipment({ orderId }, warehouse)).rejects.toMatchObject({
      code: Code.FailedPrecondition,
      rawMessage: `shipment for order ${orderId} was cancelled`,
    });
    expect(await subjectsOf(orderId)).toEqual(["shop.shipping.shipment_created", "shop.shipping.shipment_cancelled"]);
  });

  it("answers NOT_FOUND to a dispatch of an unknown order", async () => {
    const orderId = randomUUID();
    await expect(client.dispatchShipment({ orderId }, warehouse)).rejects.toMatchObject({
      code: Code.NotFound,
      rawMessage: `shipment for order ${orderId} not found`,
    });
  });

  it("applies a race between cancel and dispatch once", async () => {
    const { orderId } = await created();
    const [cancel, dispatch] = await Promise.allSettled([
      client.cancelShipment({ orderId }),
      client.dispatchShipment({ orderId }, warehouse),
    ]);
    expect([cancel.status, dispatch.status].sort()).toEqual(["fulfilled", "rejected"]);
    const subjects = await subjectsOf(orderId);
    expect(subjects).toHaveLength(2);
    const { shipment } = await client.getShipment({ orderId }, { headers: adminHeaders() });
    expect(shipment?.status).toBe(cancel.status === "fulfilled" ? ShipmentStatus.CANCELLED : ShipmentStatus.DISPATCHED);
  });
});

describe("cancel tombstones", () => {
  it("records a cancel of an unknown order without an event and refuses a late create", async () => {
    const orderId = randomUUID();
    const { shipment } = await client.cancelShipment({ orderId });
    expect(shipment).toMatchObject({ orderId, userId: "", status: ShipmentStatus.CANCELLED, trackingNumber: "" });
    expect(shipment?.address).toBeUndefined();
    expect((await client.cancelShipment({ orderId })).shipment).toEqual(shipment);

    await expect(client.createShipment({ ...creation(), orderId })).rejects.toMatchObject({
      code: Code.FailedPrecondition,
      rawMessage: `shipment for order ${orderId} was cancelled`,
    });
    await expect(client.dispatchShipment({ orderId }, warehouse)).rejects.toMatchObject({ code: Code.FailedPrecondition });
    await expect(client.getShipment({ orderId }, { headers: adminHeaders() })).rejects.toMatchObject({ code: Code.NotFound });
    expect(await eventsOf(orderId)).toEqual([]);
  });

  it("leaves the order cancelled when a cancel races its create", async () => {
    const request = creation();
    const [create] = await Promise.allSettled([client.createShipment(request), client.cancelShipment({ orderId: request.orderId })]);
    if (create.status === "rejected") expect(create.reason).toMatchObject({ code: Code.FailedPrecondition });
    expect((await client.cancelShipment({ orderId: request.orderId })).shipment?.status).toBe(ShipmentStatus.CANCELLED);
    const subjects = await subjectsOf(request.orderId);
    expect([[], ["shop.shipping.shipment_created", "shop.shipping.shipment_cancelled"]]).toContainEqual(subjects);
  });
});

describe("reading a shipment (public route, owner or admin)", () => {
  it("shows the shipment to its owner and to admins", async () => {
    const { orderId, userId, shipment } = await created();
    expect((await client.getShipment({ orderId }, { headers: callerHeaders(userId) })).shipment).toEqual(shipment);
    expect((await client.getShipment({ orderId }, { headers: adminHeaders() })).shipment).toEqual(shipment);
  });

  it("refuses other customers and anonymous callers", async () => {
    const { orderId } = await created();
    await expect(client.getShipment({ orderId }, { headers: callerHeaders() })).rejects.toMatchObject({ code: Code.PermissionDenied });
    const anonymous = createServiceClient(ShippingService, { address: service.grpc.address });
    await expect(anonymous.getShipment({ orderId })).rejects.toMatchObject({ code: Code.Unauthenticated });
    anonymous.close();
    await expect(client.getShipment({ orderId })).rejects.toMatchObject({ code: Code.PermissionDenied });
  });

  it("answers NOT_FOUND for an order without a shipment", async () => {
    const orderId = randomUUID();
    await expect(client.getShipment({ orderId }, { headers: callerHeaders() })).rejects.toMatchObject({
      code: Code.NotFound,
      rawMessage: `shipment for order ${orderId} not found`,
    });
  });
});

describe("shipping bad paths", () => {
  it.each([
    [{ orderId: "order-1" }, "orderId"],
    [{ userId: "" }, "userId"],
    [{ address: undefined }, "address"],
    [{ address: { ...address, recipient: "" } }, "address.recipient"],
    [{ address: { ...address, city: "" } }, "address.city"],
    [{ address: { ...address, postalCode: "" } }, "address.postalCode"],
    [{ address: { ...address, countryCode: "gb" } }, "address.countryCode"],
    [{ address: { ...address, line2: "x".repeat(201) } }, "address.line2"],
  ])("rejects a create with %o naming %s", async (override, field) => {
    const request = { ...creation(), ...override };
    await expect(client.createShipment(request)).rejects.toMatchObject({
      code: Code.InvalidArgument,
      rawMessage: expect.stringContaining(`${field}:`),
    });
  });

  it("rejects a malformed order id on every operation", async () => {
    const calls = [
      () => client.cancelShipment({ orderId: "nope" }),
      () => client.dispatchShipment({ orderId: "nope" }, warehouse),
      () => client.getShipment({ orderId: "nope" }, warehouse),
    ];
    for (const call of calls) {
      await expect(call()).rejects.toMatchObject({
        code: Code.InvalidArgument,
        rawMessage: expect.stringContaining("orderId:"),
      });
    }
  });
});

describe("state changes and their events commit together", () => {
  it("keeps the shipment unchanged when its event cannot be written", async () => {
    const { orderId } = await created();
    const request = creation();
    await inspect.execute(`ALTER TABLE outbox_events ADD CONSTRAINT refuse_events CHECK (false) NOT VALID`);
    try {
      await expect(client.dispatchShipment({ orderId }, warehouse)).rejects.toMatchObject({ code: Code.Internal });
      await expect(client.createShipment(request)).rejects.toMatchObject({ code: Code.Internal });
    } finally {
      await inspect.execute(`ALTER TABLE outbox_events DROP CONSTRAINT refuse_events`);
    }
    const admin = { headers: adminHeaders() };
    expect((await client.getShipment({ orderId }, admin)).shipment?.status).toBe(ShipmentStatus.CREATED);
    await expect(client.getShipment({ orderId: request.orderId }, admin)).rejects.toMatchObject({ code: Code.NotFound });
    expect(await subjectsOf(orderId)).toEqual(["shop.shipping.shipment_created"]);

    expect((await client.dispatchShipment({ orderId }, warehouse)).shipment?.status).toBe(ShipmentStatus.DISPATCHED);
    expect((await client.createShipment(request)).shipment?.status).toBe(ShipmentStatus.CREATED);
  });
});

describe("publishing", () => {
  it("relays the outbox to JetStream with the event id as message id, then marks rows sent", async () => {
    const nc = await connect({ servers: natsUrl ?? testNatsUrl() });
    try {
      const received: Msg[] = [];
      const subscription = nc.subscribe("shop.shipping.>", {
        callback: (err, msg) => {
          if (!err) received.push(msg);
        },
      });
      await nc.flush();
      const { orderId, shipment } = await created();
      await client.dispatchShipment({ orderId }, warehouse);
      const events = await eventsOf(orderId);

      const messageIdOf = (msg: Msg) => msg.headers?.get(eventHeaders.messageId);
      const polling = { timeout: 10_000, interval: 20 };
      await vi.waitFor(() => expect(received.map(messageIdOf)).toEqual(expect.arrayContaining(events.map((e) => e.id))), polling);
      const dispatchedMessage = received.find((msg) => messageIdOf(msg) === events[1]!.id)!;
      expect(dispatchedMessage.subject).toBe("shop.shipping.shipment_dispatched");
      expect(dispatchedMessage.headers?.get(eventHeaders.type)).toBe("shop.shipping.v1.ShipmentDispatched");
      expect(fromBinary(ShipmentDispatchedSchema, dispatchedMessage.data)).toMatchObject({ shipmentId: shipment.id, orderId });
      subscription.unsubscribe();

      const unsent = async () =>
        (await inspect.query("SELECT id FROM outbox_events WHERE id = ANY($1::uuid[]) AND sent_at IS NULL", [events.map((e) => e.id)]))
          .length;
      await vi.waitFor(async () => expect(await unsent()).toBe(0), polling);
    } finally {
      await nc.drain();
    }
  });
});
