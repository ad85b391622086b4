import { randomUUID } from "node:crypto";
import { MatchersV3 } from "@pact-foundation/pact";
import { ShipmentCreatedSchema } from "@shop/contracts/shop/shipping/v1/events_pb.js";
import { ShippingService } from "@shop/contracts/shop/shipping/v1/shipping_pb.js";
import { createServiceClient } from "@shop/runtime";
import { serviceCredential } from "@shop/runtime/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { shippingAddress } from "./support/checkout.js";
import { deliver, eventFromOutbox, eventMetadata, messageConsumerPact } from "./support/events.js";
import { type NotificationsConsumer, startNotificationsConsumer } from "./support/notifications.js";
import { removePact, uuidV4, verifyMessagePact } from "./support/pacts.js";
import { startTestService, type TestService } from "./support/services.js";

const consumer = "notifications";
const provider = "shipping";

const orderId = "7d2e3f4a-5b6c-4d7e-8f9a-0b1c2d3e4f5a";
const userId = "8e3f4a5b-6c7d-4e8f-9a0b-1c2d3e4f5a6b";

describe("notifications (consumer) of shipping events", () => {
  const pact = messageConsumerPact(consumer, provider);
  let notifications: NotificationsConsumer;

  beforeAll(async () => {
    await removePact(consumer, provider);
    notifications = await startNotificationsConsumer();
  });

  afterAll(() => notifications?.stop());

  it("gives the customer the tracking number of a new shipment", async () => {
    await pact
      .given("a shipment was created for an order")
      .expectsToReceive("a shipment created event")
      .withContent({ orderId: uuidV4(orderId), userId: uuidV4(userId), trackingNumber: MatchersV3.string("SHP-7K2M9QX4TB") })
      .withMetadata(eventMetadata(ShipmentCreatedSchema))
      .verify(async (message) => {
        await deliver(message, notifications.handlers, notifications.db);
        const [notification] = await notifications.notifications.listForUser(userId, 10);
        expect(notification).toMatchObject({
          kind: "shipment_created",
          orderId,
          subject: "Your order is being prepared for shipping",
          body: `Order ${orderId} has a shipment. Tracking number: SHP-7K2M9QX4TB.`,
        });
      });
  });
});

describe("shipping (provider) verifies the notifications pact", () => {
  let shipping: TestService;
  let client: ReturnType<typeof createServiceClient<typeof ShippingService>>;
  let shippedOrder: string | undefined;

  beforeAll(async () => {
    shipping = await startTestService("shipping");
    client = createServiceClient(ShippingService, { address: shipping.address, credential: serviceCredential("orders") });
  });

  afterAll(async () => {
    client?.close();
    await shipping?.stop();
  });

  it("publishes every event notifications relies on, from its own shipment path", async () => {
    await verifyMessagePact({
      consumer,
      provider,
      stateHandlers: {
        "a shipment was created for an order": async () => {
          const order = randomUUID();
          await client.createShipment({ orderId: order, userId: randomUUID(), address: shippingAddress });
          shippedOrder = order;
        },
      },
      messageProviders: {
        "a shipment created event": () =>
          eventFromOutbox(shipping.databaseUrl, ShipmentCreatedSchema, (event) => event.orderId === shippedOrder),
      },
    });
  });
});
