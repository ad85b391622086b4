import { MatchersV3 } from "@pact-foundation/pact";
import { ShippingService } from "@shop/contracts/shop/shipping/v1/shipping_pb.js";
import { adminHeaders } from "@shop/runtime/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  buyer,
  checkoutOrder,
  connectJson,
  connectPath,
  noAbort,
  sagaStepsAgainst,
  shippingAddress,
  shippingAddressJson,
} from "./support/checkout.js";
import { type ConnectProvider, connectJsonClient, serveOverConnect } from "./support/connect-provider.js";
import { httpConsumerPact, removePact, verifyHttpPact } from "./support/pacts.js";
import { buildTestProvider, type TestProvider } from "./support/services.js";

const consumer = "orders";
const provider = "shipping";

// One order per interaction: the provider verifies them all against one database.
const orderToShip = "e29fd0b1-6d0e-4f5a-8b9c-adbecfd0e1f8";
const orderToCancel = "f3a0e1c2-7e1f-4a6b-9cad-becfd0e1f209";
const dispatchedOrder = "04b1f2d3-8f2a-4b7c-8dbe-cfd0e1f2031a";

describe("orders (consumer) of shipping", () => {
  const pact = httpConsumerPact(consumer, provider);
  beforeAll(() => removePact(consumer, provider));

  it("asks for a shipment to the order's address and goes on", async () => {
    pact
      .uponReceiving("a shipment request for an order")
      .withRequest({
        method: "POST",
        path: connectPath(ShippingService, "CreateShipment"),
        headers: connectJson,
        body: { orderId: orderToShip, userId: buyer.userId, address: shippingAddressJson },
      })
      .willRespondWith({ status: 200, headers: connectJson, body: {} });
    await pact.executeTest(async (mock) => {
      expect(await sagaStepsAgainst(mock.url).execute("SHIP", checkoutOrder(orderToShip), noAbort())).toEqual({ kind: "succeeded" });
    });
  });

  it("cancels the shipment of an order it compensates", async () => {
    pact
      .given("a shipment exists for the order", { orderId: orderToCancel, userId: buyer.userId })
      .uponReceiving("a cancellation of a shipment not yet dispatched")
      .withRequest({
        method: "POST",
        path: connectPath(ShippingService, "CancelShipment"),
        headers: connectJson,
        body: { orderId: orderToCancel },
      })
      .willRespondWith({ status: 200, headers: connectJson, body: {} });
    await pact.executeTest(async (mock) => {
      expect(await sagaStepsAgainst(mock.url).execute("CANCEL_SHIPMENT", checkoutOrder(orderToCancel), noAbort())).toEqual({
        kind: "succeeded",
      });
    });
  });

  it("learns on FAILED_PRECONDITION that a dispatched shipment can no longer be cancelled", async () => {
    pact
      .given("the order's shipment was dispatched", { orderId: dispatchedOrder, userId: buyer.userId })
      .uponReceiving("a cancellation of a dispatched shipment")
      .withRequest({
        method: "POST",
        path: connectPath(ShippingService, "CancelShipment"),
        headers: connectJson,
        body: { orderId: dispatchedOrder },
      })
      .willRespondWith({
        status: 400,
        headers: connectJson,
        body: { code: "failed_precondition", message: MatchersV3.string(`shipment for order ${dispatchedOrder} was already dispatched`) },
      });
    await pact.executeTest(async (mock) => {
      expect(await sagaStepsAgainst(mock.url).execute("CANCEL_SHIPMENT", checkoutOrder(dispatchedOrder), noAbort())).toEqual({
        kind: "rejected",
        reason: "SHIPMENT_DISPATCHED",
        detail: `shipment for order ${dispatchedOrder} was already dispatched`,
      });
    });
  });
});

describe("shipping (provider) verifies the orders pact", () => {
  let shipping: TestProvider;
  let server: ConnectProvider;

  beforeAll(async () => {
    shipping = await buildTestProvider("shipping");
    server = await serveOverConnect(shipping.registration);
  });

  afterAll(async () => {
    await server?.stop();
    await shipping?.stop();
  });

  it("answers every interaction orders recorded", async () => {
    const client = connectJsonClient(ShippingService, server.url);
    const createShipment = async (params: unknown) => {
      const { orderId, userId } = params as { orderId: string; userId: string };
      await client.createShipment({ orderId, userId, address: shippingAddress });
      return { orderId };
    };
    await verifyHttpPact({
      consumer,
      provider,
      providerBaseUrl: server.url,
      stateHandlers: {
        "a shipment exists for the order": createShipment,
        "the order's shipment was dispatched": async (params) => {
          const { orderId } = await createShipment(params);
          await client.dispatchShipment({ orderId }, { headers: adminHeaders() });
        },
      },
    });
  });
});
