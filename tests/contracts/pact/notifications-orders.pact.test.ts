import { OrderCancelledSchema, OrderConfirmedSchema } from "@shop/contracts/shop/orders/v1/events_pb.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CheckoutEventSource, checkoutStates, startCheckoutEventSource } from "./support/checkout-events.js";
import { deliver, eventMetadata, messageConsumerPact } from "./support/events.js";
import { type NotificationsConsumer, startNotificationsConsumer } from "./support/notifications.js";
import { money, removePact, uuidV4, verifyMessagePact } from "./support/pacts.js";

const consumer = "notifications";
const provider = "orders";

const confirmed = { orderId: "9f4a5b6c-7d8e-4f9a-8b1c-2d3e4f5a6b7c", userId: "0a5b6c7d-8e9f-4a0b-9c2d-3e4f5a6b7c8d" };
const cancelled = { orderId: "1b6c7d8e-9f0a-4b1c-8d3e-4f5a6b7c8d9e", userId: "2c7d8e9f-0a1b-4c2d-9e4f-5a6b7c8d9e0f" };

describe("notifications (consumer) of orders events", () => {
  const pact = messageConsumerPact(consumer, provider);
  let notifications: NotificationsConsumer;

  beforeAll(async () => {
    await removePact(consumer, provider);
    notifications = await startNotificationsConsumer();
  });

  afterAll(() => notifications?.stop());

  it("thanks the customer for a confirmed order, with its total", async () => {
    await pact
      .given(checkoutStates.completed)
      .expectsToReceive("an order confirmed event")
      .withContent({ orderId: uuidV4(confirmed.orderId), userId: uuidV4(confirmed.userId), total: money("2598") })
      .withMetadata(eventMetadata(OrderConfirmedSchema))
      .verify(async (message) => {
        await deliver(message, notifications.handlers, notifications.db);
        const [notification] = await notifications.notifications.listForUser(confirmed.userId, 10);
        expect(notification).toMatchObject({
          kind: "order_confirmed",
          orderId: confirmed.orderId,
          body: `Thank you! Order ${confirmed.orderId} is confirmed. Total: $25.98.`,
        });
      });
  });

  it("explains in words why an order was cancelled", async () => {
    await pact
      .given(checkoutStates.declined)
      .expectsToReceive("an order cancelled event")
      // The reason is matched exactly: the message puts each known reason into words.
      .withContent({ orderId: uuidV4(cancelled.orderId), userId: uuidV4(cancelled.userId), reason: "PAYMENT_DECLINED" })
      .withMetadata(eventMetadata(OrderCancelledSchema))
      .verify(async (message) => {
        await deliver(message, notifications.handlers, notifications.db);
        const [notification] = await notifications.notifications.listForUser(cancelled.userId, 10);
        expect(notification).toMatchObject({
          kind: "order_cancelled",
          orderId: cancelled.orderId,
          body: `Order ${cancelled.orderId} was cancelled because your payment was declined.`,
        });
      });
  });
});

describe("orders (provider) verifies the notifications pact", () => {
  let source: CheckoutEventSource;

  beforeAll(async () => {
    source = await startCheckoutEventSource();
  });

  afterAll(() => source?.stop());

  it("publishes every event notifications relies on, from real checkouts", async () => {
    await verifyMessagePact({
      consumer,
      provider,
      stateHandlers: source.stateHandlers,
      messageProviders: {
        "an order confirmed event": source.eventOf(OrderConfirmedSchema),
        "an order cancelled event": source.eventOf(OrderCancelledSchema),
      },
    });
  });
});
