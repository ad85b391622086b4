import { PaymentRefundedSchema } from "@shop/contracts/shop/payments/v1/events_pb.js";
import { PaymentService } from "@shop/contracts/shop/payments/v1/payments_pb.js";
import { createServiceClient } from "@shop/runtime";
import { serviceCredential } from "@shop/runtime/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deliver, eventFromOutbox, eventMetadata, messageConsumerPact } from "./support/events.js";
import { type NotificationsConsumer, startNotificationsConsumer } from "./support/notifications.js";
import { money, removePact, uuidV4, verifyMessagePact } from "./support/pacts.js";
import { refundAPayment } from "./support/payments.js";
import { startTestService, type TestService } from "./support/services.js";

const consumer = "notifications";
const provider = "payments";

const orderId = "5b0c1d2e-3f4a-4b5c-8d6e-7f8a9b0c1d2e";
const userId = "6c1d2e3f-4a5b-4c6d-9e7f-8a9b0c1d2e3f";

describe("notifications (consumer) of payments events", () => {
  const pact = messageConsumerPact(consumer, provider);
  let notifications: NotificationsConsumer;

  beforeAll(async () => {
    await removePact(consumer, provider);
    notifications = await startNotificationsConsumer();
  });

  afterAll(() => notifications?.stop());

  it("tells the customer how much was refunded", async () => {
    await pact
      .given("the payment of a confirmed order was refunded")
      .expectsToReceive("a payment refunded event")
      .withContent({ orderId: uuidV4(orderId), userId: uuidV4(userId), amount: money("2598") })
      .withMetadata(eventMetadata(PaymentRefundedSchema))
      .verify(async (message) => {
        await deliver(message, notifications.handlers, notifications.db);
        const [notification] = await notifications.notifications.listForUser(userId, 10);
        expect(notification).toMatchObject({
          kind: "payment_refunded",
          orderId,
          subject: "Your payment was refunded",
          body: `We refunded $25.98 for order ${orderId}.`,
        });
      });
  });
});

describe("payments (provider) verifies the notifications pact", () => {
  let payments: TestService;
  let client: ReturnType<typeof createServiceClient<typeof PaymentService>>;
  let refundedOrder: string | undefined;

  beforeAll(async () => {
    payments = await startTestService("payments");
    client = createServiceClient(PaymentService, { address: payments.address, credential: serviceCredential("orders") });
  });

  afterAll(async () => {
    client?.close();
    await payments?.stop();
  });

  it("publishes every event notifications relies on, from its own refund path", async () => {
    await verifyMessagePact({
      consumer,
      provider,
      stateHandlers: {
        "the payment of a confirmed order was refunded": async () => {
          refundedOrder = await refundAPayment(client);
        },
      },
      messageProviders: {
        "a payment refunded event": () =>
          eventFromOutbox(payments.databaseUrl, PaymentRefundedSchema, (event) => event.orderId === refundedOrder),
      },
    });
  });
});
