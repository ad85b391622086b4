import { randomBytes } from "node:crypto";
import { MatchersV3 } from "@pact-foundation/pact";
import { CatalogService } from "@shop/contracts/shop/catalog/v1/catalog_pb.js";
import { adminHeaders } from "@shop/runtime/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Order } from "../../../services/orders/src/domain/order.js";
import { checkoutOrder, connectJson, connectPath, noAbort, sagaStepsAgainst } from "./support/checkout.js";
import { type ConnectProvider, connectJsonClient, serveOverConnect } from "./support/connect-provider.js";
import { httpConsumerPact, money, removePact, verifyHttpPact } from "./support/pacts.js";
import { buildTestProvider, type TestProvider } from "./support/services.js";

const consumer = "orders";
const provider = "catalog";

const mugId = "1f2e3d4c-5b6a-4978-8695-a4b3c2d1e0f9";
const lampId = "2a3b4c5d-6e7f-4a8b-9c0d-1e2f3a4b5c6d";
const unknownId = "00000000-0000-4000-8000-000000000000";

/** A new order as the saga first sees it: quantities only, nothing priced yet. */
function unpricedOrder(id: string, items: { productId: string; quantity: number }[]): Order {
  return {
    ...checkoutOrder(id),
    items: items.map(({ productId, quantity }) => ({ productId, quantity, name: "", unitPrice: null, lineTotal: null })),
    total: null,
  };
}

const usd = (amountMinor: bigint) => ({ currency: "USD", amountMinor });

describe("orders (consumer) of catalog", () => {
  const pact = httpConsumerPact(consumer, provider);
  beforeAll(() => removePact(consumer, provider));

  it("snapshots name and unit price of every item and totals the order", async () => {
    pact
      .given("a mug and a lamp are in the catalog")
      .uponReceiving("a batch lookup of the products of an order")
      .withRequest({
        method: "POST",
        path: connectPath(CatalogService, "BatchGetProducts"),
        headers: connectJson,
        body: { productIds: [MatchersV3.fromProviderState("${mugId}", mugId), MatchersV3.fromProviderState("${lampId}", lampId)] },
      })
      .willRespondWith({
        status: 200,
        headers: connectJson,
        body: {
          products: [
            { id: MatchersV3.fromProviderState("${mugId}", mugId), name: MatchersV3.string("Mug"), price: money("1299") },
            { id: MatchersV3.fromProviderState("${lampId}", lampId), name: MatchersV3.string("Desk lamp"), price: money("4500") },
          ],
        },
      });
    await pact.executeTest(async (mock) => {
      const order = unpricedOrder("13579bdf-2468-4ace-8bdf-0123456789ab", [
        { productId: mugId, quantity: 2 },
        { productId: lampId, quantity: 1 },
      ]);
      expect(await sagaStepsAgainst(mock.url).execute("PRICE", order, noAbort())).toEqual({
        kind: "succeeded",
        priced: {
          lines: [
            { productId: mugId, quantity: 2, name: "Mug", unitPrice: usd(1299n), lineTotal: usd(2598n) },
            { productId: lampId, quantity: 1, name: "Desk lamp", unitPrice: usd(4500n), lineTotal: usd(4500n) },
          ],
          total: usd(7098n),
        },
      });
    });
  });

  it("cancels the checkout as PRODUCT_UNAVAILABLE when a product is unknown", async () => {
    pact
      .uponReceiving("a batch lookup naming a product that does not exist")
      .withRequest({
        method: "POST",
        path: connectPath(CatalogService, "BatchGetProducts"),
        headers: connectJson,
        body: { productIds: [unknownId] },
      })
      .willRespondWith({ status: 404, headers: connectJson, body: { code: "not_found", message: MatchersV3.includes(unknownId) } });
    await pact.executeTest(async (mock) => {
      const order = unpricedOrder("2468ace0-1357-4bdf-8ace-0123456789ab", [{ productId: unknownId, quantity: 1 }]);
      const outcome = await sagaStepsAgainst(mock.url).execute("PRICE", order, noAbort());
      expect(outcome).toMatchObject({ kind: "rejected", reason: "PRODUCT_UNAVAILABLE", detail: expect.stringContaining(unknownId) });
    });
  });
});

describe("catalog (provider) verifies the orders pact", () => {
  let catalog: TestProvider;
  let server: ConnectProvider;

  beforeAll(async () => {
    catalog = await buildTestProvider("catalog");
    server = await serveOverConnect(catalog.registration);
  });

  afterAll(async () => {
    await server?.stop();
    await catalog?.stop();
  });

  it("answers every interaction orders recorded", async () => {
    const client = connectJsonClient(CatalogService, server.url);
    const admin = { headers: adminHeaders() };
    const createProduct = async (name: string, amountMinor: bigint) => {
      const sku = `PACT-${randomBytes(4).toString("hex").toUpperCase()}`;
      const { product } = await client.createProduct({ sku, name, description: "", price: { currencyCode: "USD", amountMinor } }, admin);
      return product!.id;
    };
    await verifyHttpPact({
      consumer,
      provider,
      providerBaseUrl: server.url,
      stateHandlers: {
        "a mug and a lamp are in the catalog": async () => ({
          mugId: await createProduct("Mug", 1299n),
          lampId: await createProduct("Desk lamp", 4500n),
        }),
      },
    });
  });
});
