import { MatchersV3 } from "@pact-foundation/pact";
import { InventoryService } from "@shop/contracts/shop/inventory/v1/inventory_pb.js";
import { adminHeaders } from "@shop/runtime/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkoutOrder, connectJson, connectPath, noAbort, sagaStepsAgainst } from "./support/checkout.js";
import { type ConnectProvider, connectJsonClient, serveOverConnect } from "./support/connect-provider.js";
import { httpConsumerPact, removePact, verifyHttpPact } from "./support/pacts.js";
import { buildTestProvider, type TestProvider } from "./support/services.js";

const consumer = "orders";
const provider = "inventory";

// One order and one product per interaction: the provider verifies them all against one database.
const reservable = { orderId: "6a1d5e3f-8b2c-4d7e-9f1a-2b3c4d5e6f70", productId: "8c3f7a5b-0d4e-4f9a-8b3c-4d5e6f7a8b92" };
const scarce = { orderId: "7b2e6f40-9c3d-4e8f-8a2b-3c4d5e6f7a81", productId: "9d4a8b6c-1e5f-4a0b-9c4d-5e6f7a8b9ca3" };
const toCommit = { orderId: "ae5b9c7d-2f6a-4b1c-8d5e-6f7a8b9cadb4", productId: "bf6cad8e-3a7b-4c2d-9e6f-7a8b9cadbec5" };
const toRelease = { orderId: "c07dbe9f-4b8c-4d3e-8f7a-8b9cadbecfd6", productId: "d18ecfa0-5c9d-4e4f-9a8b-9cadbecfd0e7" };

const reserveRequest = ({ orderId, productId }: typeof reservable) => ({ orderId, items: [{ productId, quantity: 2 }] });

describe("orders (consumer) of inventory", () => {
  const pact = httpConsumerPact(consumer, provider);
  beforeAll(() => removePact(consumer, provider));

  it("reserves the order's items and goes on", async () => {
    pact
      .given("the product has stock", { productId: reservable.productId, available: "5" })
      .uponReceiving("a reservation of items in stock")
      .withRequest({
        method: "POST",
        path: connectPath(InventoryService, "ReserveStock"),
        headers: connectJson,
        body: reserveRequest(reservable),
      })
      .willRespondWith({ status: 200, headers: connectJson, body: {} });
    await pact.executeTest(async (mock) => {
      const order = checkoutOrder(reservable.orderId, { productId: reservable.productId });
      expect(await sagaStepsAgainst(mock.url).execute("RESERVE", order, noAbort())).toEqual({ kind: "succeeded" });
    });
  });

  it("cancels the checkout for insufficient stock on FAILED_PRECONDITION", async () => {
    pact
      .given("the product has stock", { productId: scarce.productId, available: "1" })
      .uponReceiving("a reservation of more items than are in stock")
      .withRequest({
        method: "POST",
        path: connectPath(InventoryService, "ReserveStock"),
        headers: connectJson,
        body: reserveRequest(scarce),
      })
      // The Connect protocol answers failed_precondition with HTTP 400 and the code in the body.
      .willRespondWith({
        status: 400,
        headers: connectJson,
        body: {
          code: "failed_precondition",
          message: MatchersV3.string(`insufficient stock for product ${scarce.productId}: requested 2, available 1`),
        },
      });
    await pact.executeTest(async (mock) => {
      const order = checkoutOrder(scarce.orderId, { productId: scarce.productId });
      expect(await sagaStepsAgainst(mock.url).execute("RESERVE", order, noAbort())).toEqual({
        kind: "rejected",
        reason: "INSUFFICIENT_STOCK",
        detail: `insufficient stock for product ${scarce.productId}: requested 2, available 1`,
      });
    });
  });

  it.each([
    ["commits", "COMMIT", "CommitStock", "a commit of an order's reservation", toCommit],
    ["releases", "RELEASE_STOCK", "ReleaseStock", "a release of an order's reservation", toRelease],
  ] as const)("%s the reservation of an order and relies on nothing but success", async (_verb, action, method, description, ids) => {
    pact
      .given("stock is reserved for the order", ids)
      .uponReceiving(description)
      .withRequest({ method: "POST", path: connectPath(InventoryService, method), headers: connectJson, body: { orderId: ids.orderId } })
      .willRespondWith({ status: 200, headers: connectJson, body: {} });
    await pact.executeTest(async (mock) => {
      expect(await sagaStepsAgainst(mock.url).execute(action, checkoutOrder(ids.orderId, { productId: ids.productId }), noAbort())).toEqual(
        {
          kind: "succeeded",
        },
      );
    });
  });
});

describe("inventory (provider) verifies the orders pact", () => {
  let inventory: TestProvider;
  let server: ConnectProvider;

  beforeAll(async () => {
    inventory = await buildTestProvider("inventory");
    server = await serveOverConnect(inventory.registration);
  });

  afterAll(async () => {
    await server?.stop();
    await inventory?.stop();
  });

  it("answers every interaction orders recorded", async () => {
    const client = connectJsonClient(InventoryService, server.url);
    const admin = { headers: adminHeaders() };
    await verifyHttpPact({
      consumer,
      provider,
      providerBaseUrl: server.url,
      stateHandlers: {
        "the product has stock": async (params) => {
          const { productId, available } = params as { productId: string; available: string };
          await client.setStock({ productId, quantity: Number(available) }, admin);
        },
        "stock is reserved for the order": async (params) => {
          const { orderId, productId } = params as typeof toCommit;
          await client.setStock({ productId, quantity: 5 }, admin);
          await client.reserveStock(reserveRequest({ orderId, productId }));
        },
      },
    });
  });
});
