import path from "node:path";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { MatchersV3 } from "@pact-foundation/pact";
import {
  OrderCancelledSchema,
  OrderConfirmedSchema,
  OrderPlacedSchema,
  OrderPricedSchema,
} from "@shop/contracts/shop/orders/v1/events_pb.js";
import { OrderStatus } from "@shop/contracts/shop/orders/v1/orders_pb.js";
import { createSqlDatabase, type EventHandlers, type SqlDatabase } from "@shop/runtime";
import { createTestDatabase, type TestDatabase } from "@shop/runtime/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OrderHistoryRepository } from "../../../services/orders/src/db/order-history.js";
import { orderHistoryHandlers } from "../../../services/orders/src/events/order-history-consumer.js";
import { type CheckoutEventSource, checkoutStates, startCheckoutEventSource } from "./support/checkout-events.js";
import { deliver, eventMetadata, messageConsumerPact } from "./support/events.js";
import { money, removePact, rfc3339, uuidV4, verifyMessagePact } from "./support/pacts.js";

// The order history is a read model of the orders service, built only from these events.
const consumer = "order-history";
const provider = "orders";

const occurTime = "2026-11-22T10:15:30.250Z";
const productId = "3d8e9f0a-1b2c-4d3e-8f5a-6b7c8d9e0f1a";

describe("order history (consumer) of orders events", () => {
  const pact = messageConsumerPact(consumer, provider);
  let database: TestDatabase;
  let db: SqlDatabase;
  let history: OrderHistoryRepository;
  let handlers: EventHandlers;

  beforeAll(async () => {
    await removePact(consumer, provider);
    database = await createTestDatabase("orders", path.resolve(import.meta.dirname, "../../../services/orders"));
    db = createSqlDatabase(database.url, { poolSize: 2 });
    history = new OrderHistoryRepository(db);
    handlers = orderHistoryHandlers(history);
  });

  afterAll(async () => {
    await db?.close();
    await database?.drop();
  });

  const historyOf = async (userId: string) => (await history.listForUser(userId, 10)).map(({ order }) => order);

  it("lists a placed order as pending, with its items and address", async () => {
    const ids = { orderId: "4e9f0a1b-2c3d-4e4f-9a6b-7c8d9e0f1a2b", userId: "5f0a1b2c-3d4e-4f5a-8b7c-8d9e0f1a2b3c" };
    await pact
      .given(checkoutStates.completed)
      .expectsToReceive("an order placed event")
      .withContent({
        orderId: uuidV4(ids.orderId),
        userId: uuidV4(ids.userId),
        items: MatchersV3.eachLike({ productId: uuidV4(productId), quantity: MatchersV3.integer(2) }),
        shippingAddress: {
          recipient: MatchersV3.string("Ada Lovelace"),
          line1: MatchersV3.string("12 St James's Square"),
          city: MatchersV3.string("London"),
          postalCode: MatchersV3.string("SW1Y 4JH"),
          countryCode: MatchersV3.string("GB"),
        },
        occurTime: rfc3339(occurTime),
      })
      .withMetadata(eventMetadata(OrderPlacedSchema))
      .verify(async (message) => {
        await deliver(message, handlers, db);
        const [order] = await historyOf(ids.userId);
        expect(order).toMatchObject({
          id: ids.orderId,
          status: OrderStatus.PENDING,
          items: [{ productId, quantity: 2 }],
          shippingAddress: { recipient: "Ada Lovelace", city: "London", countryCode: "GB" },
        });
        expect(timestampDate(order!.createTime!)).toEqual(new Date(occurTime));
      });
  });

  it("shows the price snapshot of a priced order", async () => {
    const ids = { orderId: "6a1b2c3d-4e5f-4a6b-9c8d-9e0f1a2b3c4d", userId: "7b2c3d4e-5f6a-4b7c-8d9e-0f1a2b3c4d5e" };
    await pact
      .given(checkoutStates.completed)
      .expectsToReceive("an order priced event")
      .withContent({
        orderId: uuidV4(ids.orderId),
        userId: uuidV4(ids.userId),
        items: MatchersV3.eachLike({
          productId: uuidV4(productId),
          name: MatchersV3.string("Mug"),
          unitPrice: money("1299"),
          quantity: MatchersV3.integer(2),
          lineTotal: money("2598"),
        }),
        total: money("2598"),
        occurTime: rfc3339(occurTime),
      })
      .withMetadata(eventMetadata(OrderPricedSchema))
      .verify(async (message) => {
        await deliver(message, handlers, db);
        const [order] = await historyOf(ids.userId);
        expect(order).toMatchObject({
          id: ids.orderId,
          status: OrderStatus.PENDING,
          items: [
            {
              productId,
              name: "Mug",
              quantity: 2,
              unitPrice: { currencyCode: "USD", amountMinor: 1299n },
              lineTotal: { amountMinor: 2598n },
            },
          ],
          total: { currencyCode: "USD", amountMinor: 2598n },
        });
      });
  });

  it("marks an order confirmed, with its total", async () => {
    const ids = { orderId: "8c3d4e5f-6a7b-4c8d-9e0f-1a2b3c4d5e6f", userId: "9d4e5f6a-7b8c-4d9e-8f1a-2b3c4d5e6f7a" };
    await pact
      .given(checkoutStates.completed)
      .expectsToReceive("an order confirmed event")
      .withContent({ orderId: uuidV4(ids.orderId), userId: uuidV4(ids.userId), total: money("2598"), occurTime: rfc3339(occurTime) })
      .withMetadata(eventMetadata(OrderConfirmedSchema))
      .verify(async (message) => {
        await deliver(message, handlers, db);
        const [order] = await historyOf(ids.userId);
        expect(order).toMatchObject({ id: ids.orderId, status: OrderStatus.CONFIRMED, total: { currencyCode: "USD", amountMinor: 2598n } });
      });
  });

  it("marks an order cancelled, with the reason", async () => {
    const ids = { orderId: "0e5f6a7b-8c9d-4e0f-9a2b-3c4d5e6f7a8b", userId: "1f6a7b8c-9d0e-4f1a-8b3c-4d5e6f7a8b9c" };
    await pact
      .given(checkoutStates.declined)
      .expectsToReceive("an order cancelled event")
      .withContent({
        orderId: uuidV4(ids.orderId),
        userId: uuidV4(ids.userId),
        reason: MatchersV3.string("PAYMENT_DECLINED"),
        occurTime: rfc3339(occurTime),
      })
      .withMetadata(eventMetadata(OrderCancelledSchema))
      .verify(async (message) => {
        await deliver(message, handlers, db);
        const [order] = await historyOf(ids.userId);
        expect(order).toMatchObject({ id: ids.orderId, status: OrderStatus.CANCELLED, cancellationReason: "PAYMENT_DECLINED" });
      });
  });
});

describe("orders (provider) verifies the order history pact", () => {
  let source: CheckoutEventSource;

  beforeAll(async () => {
    source = await startCheckoutEventSource();
  });

  afterAll(() => source?.stop());

  it("publishes every event the order history is built from, from real checkouts", async () => {
    await verifyMessagePact({
      consumer,
      provider,
      stateHandlers: source.stateHandlers,
      messageProviders: {
        "an order placed event": source.eventOf(OrderPlacedSchema),
        "an order priced event": source.eventOf(OrderPricedSchema),
        "an order confirmed event": source.eventOf(OrderConfirmedSchema),
        "an order cancelled event": source.eventOf(OrderCancelledSchema),
      },
    });
  });
});
