import { randomBytes, randomUUID } from "node:crypto";
import path from "node:path";
import { create, type DescMessage, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { type Notification, NotificationKind, NotificationService } from "@shop/contracts/shop/notifications/v1/notifications_pb.js";
import { OrderCancelledSchema, OrderConfirmedSchema, OrderPlacedSchema } from "@shop/contracts/shop/orders/v1/events_pb.js";
import { PaymentRefundedSchema } from "@shop/contracts/shop/payments/v1/events_pb.js";
import { ShipmentCreatedSchema } from "@shop/contracts/shop/shipping/v1/events_pb.js";
import {
  createServiceClient,
  createSqlDatabase,
  eventContentType,
  eventHeaders,
  eventMetrics,
  eventSubject,
  newEventId,
  type RunningService,
  type SqlDatabase,
  startService,
  streamName,
} from "@shop/runtime";
import {
  callerHeaders,
  createTestDatabase,
  credentialsEnv,
  failureOf,
  forgedPageToken,
  type TestDatabase,
  testNatsUrl,
  waitFor,
} from "@shop/runtime/testing";
import { connect, type JetStreamClient, type JetStreamManager, type NatsConnection, headers as natsHeaders } from "nats";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadNotificationsConfig } from "./config.js";
import type { NotificationSubscription } from "./events/notification-consumer.js";
import { buildNotifications } from "./server.js";

const serviceDir = path.resolve(import.meta.dirname, "..");
const natsUrl = testNatsUrl();

// Private streams and a private durable name per run: parallel runs and a running system
// never see this file's events, and this file never takes theirs.
const runId = randomBytes(4).toString("hex");
const sources = { orders: `ntf${runId}_orders`, shipping: `ntf${runId}_shipping`, payments: `ntf${runId}_payments` };
const subscription: NotificationSubscription = { consumerName: `notifications_${runId}`, contexts: Object.values(sources) };

let db: TestDatabase;
let inspect: SqlDatabase;
let nc: NatsConnection;
let js: JetStreamClient;
let jsm: JetStreamManager;
let service: RunningService | undefined;
let client: ReturnType<typeof createServiceClient<typeof NotificationService>>;

async function startNotifications(consumers: NotificationSubscription = subscription): Promise<void> {
  const config = loadNotificationsConfig({
    ...credentialsEnv("notifications"),
    NOTIFICATIONS_HOST: "127.0.0.1",
    NOTIFICATIONS_PORT: "0",
    NOTIFICATIONS_METRICS_PORT: "0",
    NOTIFICATIONS_DATABASE_URL: db.url,
    NATS_URL: natsUrl,
    LOG_LEVEL: "silent",
  });
  service = await startService({ context: "notifications", serviceDir, config, start: (deps) => buildNotifications(deps, consumers) });
  client = createServiceClient(NotificationService, { address: service.grpc.address });
}

async function stopNotifications(): Promise<void> {
  client?.close();
  await service?.stop();
  service = undefined;
}

beforeAll(async () => {
  db = await createTestDatabase("notifications", serviceDir);
  inspect = createSqlDatabase(db.url, { poolSize: 2 });
  nc = await connect({ servers: natsUrl });
  js = nc.jetstream();
  jsm = await nc.jetstreamManager();
  await startNotifications();
});

afterAll(async () => {
  await stopNotifications();
  for (const context of Object.values(sources)) await jsm?.streams.delete(streamName(context)).catch(() => false);
  await nc?.close();
  await inspect?.close();
  await db?.drop();
});

/** Publishes an event as the outbox relay does: protobuf payload, type header, event id as message id. */
async function publish<S extends DescMessage>(
  context: string,
  schema: S,
  message: MessageInitShape<S>,
  { eventId = newEventId(), type = schema.typeName } = {},
): Promise<{ eventId: string; seq: number }> {
  const h = natsHeaders();
  h.set(eventHeaders.type, type);
  h.set(eventHeaders.contentType, eventContentType);
  h.set(eventHeaders.occurredAt, new Date().toISOString());
  const subject = eventSubject(schema).replace(/^shop\.[^.]+\./, `shop.${context}.`);
  const ack = await js.publish(subject, toBinary(schema, create(schema, message)), { msgID: eventId, headers: h });
  return { eventId, seq: ack.seq };
}

const listAll = async (userId: string): Promise<Notification[]> =>
  (await client.listNotifications({ pageSize: 100 }, { headers: callerHeaders(userId) })).notifications;

const notificationsOf = (userId: string, count: number) =>
  waitFor(
    () => listAll(userId),
    (list) => list.length >= count,
    { what: `${count} notification(s) for ${userId}` },
  );

/** Waits until the consumer has acked everything up to `seq` on a source stream. */
const ackedThrough = (context: string, seq: number, consumerName = subscription.consumerName) =>
  waitFor(
    async () => (await jsm.consumers.info(streamName(context), consumerName)).ack_floor.stream_seq,
    (floor) => floor >= seq,
    { what: `${consumerName} to ack ${context} through ${seq}` },
  );

/** How many notifications are stored: all of them, or those the given events made. */
async function storedCount(sourceEventIds?: string[]): Promise<number> {
  const [row] = sourceEventIds
    ? await inspect.query<{ count: number }>("SELECT count(*)::int AS count FROM notifications WHERE source_event_id = ANY($1::uuid[])", [
        sourceEventIds,
      ])
    : await inspect.query<{ count: number }>("SELECT count(*)::int AS count FROM notifications");
  return row!.count;
}

const usd = (amountMinor: bigint) => ({ currencyCode: "USD", amountMinor });

describe("notifications from events", () => {
  it("records one notification per user-visible event, for the user it concerns", async () => {
    const [alice, bob] = [randomUUID(), randomUUID()];
    const [aliceOrder, bobOrder] = [randomUUID(), randomUUID()];
    await publish(sources.orders, OrderConfirmedSchema, { orderId: aliceOrder, userId: alice, total: usd(4599n) });
    await publish(sources.shipping, ShipmentCreatedSchema, {
      shipmentId: randomUUID(),
      orderId: aliceOrder,
      userId: alice,
      trackingNumber: "TRK-ALICE-1",
    });
    await publish(sources.orders, OrderCancelledSchema, { orderId: bobOrder, userId: bob, reason: "PAYMENT_DECLINED" });
    await publish(sources.payments, PaymentRefundedSchema, { paymentId: randomUUID(), orderId: bobOrder, userId: bob, amount: usd(1250n) });

    const forAlice = await notificationsOf(alice, 2);
    expect(forAlice).toHaveLength(2);
    expect(forAlice.every((n) => n.userId === alice && n.orderId === aliceOrder)).toBe(true);
    const confirmed = forAlice.find((n) => n.kind === NotificationKind.ORDER_CONFIRMED);
    expect(confirmed).toMatchObject({ subject: "Your order is confirmed" });
    expect(confirmed?.body).toContain("$45.99");
    expect(forAlice.find((n) => n.kind === NotificationKind.SHIPMENT_CREATED)?.body).toContain("TRK-ALICE-1");

    const forBob = await notificationsOf(bob, 2);
    expect(forBob).toHaveLength(2);
    expect(forBob.every((n) => n.userId === bob && n.orderId === bobOrder)).toBe(true);
    expect(forBob.find((n) => n.kind === NotificationKind.ORDER_CANCELLED)?.body).toContain("your payment was declined");
    expect(forBob.find((n) => n.kind === NotificationKind.PAYMENT_REFUNDED)?.body).toContain("$12.50");
  });

  it("lists the newest notification first", async () => {
    const user = randomUUID();
    const order = randomUUID();
    await publish(sources.orders, OrderConfirmedSchema, { orderId: order, userId: user, total: usd(100n) });
    await notificationsOf(user, 1);
    await publish(sources.orders, OrderCancelledSchema, { orderId: order, userId: user, reason: "CUSTOMER_REQUESTED" });
    const list = await notificationsOf(user, 2);
    expect(list.map((n) => n.kind)).toEqual([NotificationKind.ORDER_CANCELLED, NotificationKind.ORDER_CONFIRMED]);
    expect(list[0]!.body).toContain("you asked us to cancel it");
  });

  it("acks event types it does not notify about without recording anything", async () => {
    const user = randomUUID();
    const order = randomUUID();
    await publish(sources.orders, OrderPlacedSchema, { orderId: order, userId: user });
    await publish(sources.orders, OrderConfirmedSchema, { orderId: order, userId: user }, { type: "shop.orders.v1.OrderTeleported" });
    const last = await publish(sources.orders, OrderCancelledSchema, { orderId: order, userId: user, reason: "INSUFFICIENT_STOCK" });
    await ackedThrough(sources.orders, last.seq);
    const list = await listAll(user);
    expect(list.map((n) => n.kind)).toEqual([NotificationKind.ORDER_CANCELLED]);
    expect(list[0]!.body).toContain("an item is out of stock");
  });

  it("records nothing for an event that names no user", async () => {
    const { eventId, seq } = await publish(sources.shipping, ShipmentCreatedSchema, {
      shipmentId: randomUUID(),
      orderId: randomUUID(),
      userId: "",
      trackingNumber: "TRK-NOBODY",
    });
    await ackedThrough(sources.shipping, seq);
    expect(await storedCount([eventId])).toBe(0);
  });

  it("lets JetStream drop a republished event id", async () => {
    const user = randomUUID();
    const message = { orderId: randomUUID(), userId: user, total: usd(700n) };
    const first = await publish(sources.orders, OrderConfirmedSchema, message);
    const again = await publish(sources.orders, OrderConfirmedSchema, message, { eventId: first.eventId });
    expect(again.seq).toBe(first.seq);
    await notificationsOf(user, 1);
    expect(await listAll(user)).toHaveLength(1);
  });
});

describe("an event delivered again", () => {
  const duplicatesSeen = async (consumer: string) =>
    (await eventMetrics.consumed.get()).values
      .filter((v) => v.labels.consumer === consumer && v.labels.result === "duplicate")
      .reduce((sum, v) => sum + v.value, 0);

  it("still makes one notification: redelivered to the same consumer, or replayed under a new name", async () => {
    const user = randomUUID();
    const order = randomUUID();
    const confirmed = await publish(sources.orders, OrderConfirmedSchema, { orderId: order, userId: user, total: usd(2000n) });
    const shipped = await publish(sources.shipping, ShipmentCreatedSchema, {
      shipmentId: randomUUID(),
      orderId: order,
      userId: user,
      trackingNumber: "TRK-AGAIN",
    });
    await notificationsOf(user, 2);
    const before = await storedCount();
    const lastSeqs = await Promise.all(subscription.contexts.map(async (c) => (await jsm.streams.info(streamName(c))).state.last_seq));

    // A durable consumer that lost its state redelivers the whole stream; the inbox recognises every event.
    await stopNotifications();
    for (const context of subscription.contexts) await jsm.consumers.delete(streamName(context), subscription.consumerName);
    const duplicatesBefore = await duplicatesSeen(subscription.consumerName);
    await startNotifications();
    await Promise.all(subscription.contexts.map((c, i) => ackedThrough(c, lastSeqs[i]!)));
    expect(await duplicatesSeen(subscription.consumerName)).toBeGreaterThan(duplicatesBefore);
    expect(await storedCount()).toBe(before);

    // Under a new consumer name the inbox knows nothing; the unique source event id still holds.
    await stopNotifications();
    const renamed = { ...subscription, consumerName: `${subscription.consumerName}_renamed` };
    await startNotifications(renamed);
    await Promise.all(renamed.contexts.map((c, i) => ackedThrough(c, lastSeqs[i]!, renamed.consumerName)));
    expect(await storedCount()).toBe(before);
    await stopNotifications();
    await startNotifications();

    const list = await listAll(user);
    expect(list).toHaveLength(2);
    expect(await storedCount([confirmed.eventId, shipped.eventId])).toBe(2);
  });
});

describe("ListNotifications", () => {
  it("requires a caller", async () => {
    expect((await failureOf(client.listNotifications({}))).code).toBe(Code.Unauthenticated);
  });

  it("shows a user only their own notifications", async () => {
    const [owner, stranger] = [randomUUID(), randomUUID()];
    await publish(sources.orders, OrderConfirmedSchema, { orderId: randomUUID(), userId: owner, total: usd(300n) });
    await notificationsOf(owner, 1);
    expect(await listAll(stranger)).toEqual([]);
    expect((await client.listNotifications({}, { headers: callerHeaders("not-a-uuid") })).notifications).toEqual([]);
  });

  it("pages through a user's notifications exactly once, newest first", async () => {
    const user = randomUUID();
    for (let i = 0; i < 5; i++) {
      await publish(sources.shipping, ShipmentCreatedSchema, {
        shipmentId: randomUUID(),
        orderId: randomUUID(),
        userId: user,
        trackingNumber: `TRK-PAGE-${i}`,
      });
    }
    const all = await notificationsOf(user, 5);
    const times = all.map((n) => n.createTime!.seconds * 1_000_000_000n + BigInt(n.createTime!.nanos));
    expect(times).toEqual([...times].sort((a, b) => (a > b ? -1 : a < b ? 1 : 0)));

    const seen: string[] = [];
    const pageSizes: number[] = [];
    let pageToken = "";
    do {
      const page = await client.listNotifications({ pageSize: 2, pageToken }, { headers: callerHeaders(user) });
      pageSizes.push(page.notifications.length);
      seen.push(...page.notifications.map((n) => n.id));
      pageToken = page.nextPageToken;
    } while (pageToken);
    expect(pageSizes).toEqual([2, 2, 1]);
    expect(seen).toEqual(all.map((n) => n.id));
  });

  it.each([
    [{ pageSize: 101 }, "pageSize"],
    [{ pageSize: -1 }, "pageSize"],
    [{ pageToken: "!!garbage!!" }, "pageToken"],
    [{ pageToken: forgedPageToken("yesterday", randomUUID()) }, "pageToken"],
    [{ pageToken: forgedPageToken(new Date().toISOString(), "not-a-uuid") }, "pageToken"],
    [{ pageToken: "a".repeat(513) }, "pageToken"],
  ])("rejects %o naming %s", async (request, field) => {
    const err = await failureOf(client.listNotifications(request, { headers: callerHeaders() }));
    expect(err.code).toBe(Code.InvalidArgument);
    expect(err.message).toContain(`${field}:`);
  });
});
