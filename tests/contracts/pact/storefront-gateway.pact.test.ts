import { MatchersV3 } from "@pact-foundation/pact";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { minorUnits, type NewOrder, StorefrontClient } from "./storefront-client.js";
import { httpConsumerPact, money, removePact, rfc3339, uuidV4, verifyHttpPact } from "./support/pacts.js";
import { type StorefrontStateHandlers, storefrontStates as states, storefrontStateHandlers } from "./support/storefront-states.js";
import { startSystem, type TestSystem } from "./support/system.js";

const consumer = "storefront";
const provider = "gateway";

/** Values the consumer side uses; the provider's states supply the real ones where `fromProviderState` says so. */
const example = {
  userId: "3f0c9a52-1d4e-4b7a-9c8d-2e6f1a0b3c4d",
  email: "ada@example.com",
  password: "correct-horse-battery",
  accessToken: "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhZGEifQ.c2lnbmF0dXJl",
  productId: "6b1e2f3a-4c5d-4e6f-8a7b-9c0d1e2f3a4b",
  orderId: "8d3a4b5c-6e7f-4a8b-9c0d-1e2f3a4b5c6d",
  idempotencyKey: "0f7a2c9e-5b3d-4e1f-8a6c-2d4e6f8a0b1c",
};
const unknownId = "00000000-0000-4000-8000-000000000000";

const fromState = MatchersV3.fromProviderState;
const bearer = fromState("Bearer ${accessToken}", `Bearer ${example.accessToken}`);
const jsonRequest = { "Content-Type": "application/json" };
const jsonResponse = { "Content-Type": MatchersV3.regex("application/json.*", "application/json") };
const apiError = (code: string, message: ReturnType<typeof MatchersV3.string>) => ({ code, message });

const address = { recipient: "Ada Lovelace", line1: "12 St James's Square", city: "London", postalCode: "SW1Y 4JH", countryCode: "GB" };
const twoMugs = (productId: string, quantity = 2): NewOrder => ({
  items: [{ productId, quantity }],
  shippingAddress: address,
  paymentToken: "tok_visa",
});

const anonymous = (url: string) => new StorefrontClient(url);
const signedIn = (url: string) => anonymous(url).signedIn(example.accessToken);

describe("storefront (consumer) of the gateway's public API", () => {
  const pact = httpConsumerPact(consumer, provider);
  beforeAll(() => removePact(consumer, provider));

  describe("accounts", () => {
    it("registers a customer", async () => {
      const account = { email: "grace@example.com", name: "Grace Hopper", password: example.password };
      pact
        .uponReceiving("a registration of a new customer")
        .withRequest({ method: "POST", path: "/v1/users", headers: jsonRequest, body: account })
        .willRespondWith({
          status: 200,
          headers: jsonResponse,
          body: {
            user: { id: uuidV4(example.userId), email: account.email, name: account.name, role: "ROLE_CUSTOMER", createTime: rfc3339() },
          },
        });
      await pact.executeTest(async (mock) => {
        const user = await anonymous(mock.url).register(account);
        expect(user).toMatchObject({ id: example.userId, email: account.email, role: "ROLE_CUSTOMER" });
      });
    });

    it("tells the visitor an email is already registered", async () => {
      const account = { email: example.email, name: "Ada Lovelace", password: example.password };
      pact
        .given(states.emailTaken, { email: example.email })
        .uponReceiving("a registration with an email already in use")
        .withRequest({ method: "POST", path: "/v1/users", headers: jsonRequest, body: account })
        .willRespondWith({ status: 409, headers: jsonResponse, body: apiError("already_exists", MatchersV3.includes(example.email)) });
      await pact.executeTest(async (mock) => {
        await expect(anonymous(mock.url).register(account)).rejects.toMatchObject({ status: 409, code: "already_exists" });
      });
    });

    it("signs a customer in and keeps the bearer token", async () => {
      pact
        .given(states.registered, { password: example.password })
        .uponReceiving("a sign-in with the right password")
        .withRequest({
          method: "POST",
          path: "/v1/auth/token",
          headers: jsonRequest,
          body: { email: fromState("${email}", example.email), password: example.password },
        })
        .willRespondWith({
          status: 200,
          headers: jsonResponse,
          body: { accessToken: MatchersV3.string(example.accessToken), expiresIn: MatchersV3.integer(3600), tokenType: "Bearer" },
        });
      await pact.executeTest(async (mock) => {
        const token = await anonymous(mock.url).signIn({ email: example.email, password: example.password });
        expect(token).toEqual({ accessToken: example.accessToken, expiresIn: 3600, tokenType: "Bearer" });
      });
    });

    it("refuses a wrong password as unauthenticated", async () => {
      pact
        .given(states.registered, { password: example.password })
        .uponReceiving("a sign-in with a wrong password")
        .withRequest({
          method: "POST",
          path: "/v1/auth/token",
          headers: jsonRequest,
          body: { email: fromState("${email}", example.email), password: "not-my-password" },
        })
        .willRespondWith({
          status: 401,
          headers: jsonResponse,
          body: apiError("unauthenticated", MatchersV3.string("invalid email or password")),
        });
      await pact.executeTest(async (mock) => {
        await expect(anonymous(mock.url).signIn({ email: example.email, password: "not-my-password" })).rejects.toMatchObject({
          status: 401,
          code: "unauthenticated",
        });
      });
    });

    it("shows the signed-in customer's profile", async () => {
      pact
        .given(states.signedIn)
        .uponReceiving("a request for the signed-in customer's profile")
        .withRequest({
          method: "GET",
          path: fromState("/v1/users/${userId}", `/v1/users/${example.userId}`),
          headers: { Authorization: bearer },
        })
        .willRespondWith({
          status: 200,
          headers: jsonResponse,
          body: {
            user: {
              id: fromState("${userId}", example.userId),
              email: MatchersV3.email(example.email),
              name: MatchersV3.string("Ada Lovelace"),
              role: "ROLE_CUSTOMER",
            },
          },
        });
      await pact.executeTest(async (mock) => {
        expect(await signedIn(mock.url).getUser(example.userId)).toMatchObject({ id: example.userId, role: "ROLE_CUSTOMER" });
      });
    });
  });

  describe("catalog", () => {
    const product = {
      id: fromState("${productId}", example.productId),
      sku: MatchersV3.string("MUG-001"),
      name: MatchersV3.string("Mug"),
      description: MatchersV3.string("A mug"),
      price: money("1299"),
    };

    it("pages through the products", async () => {
      pact
        .given(states.catalogHasProducts)
        .uponReceiving("a request for the first page of two products")
        .withRequest({ method: "GET", path: "/v1/products", query: { pageSize: "2" } })
        .willRespondWith({
          status: 200,
          headers: jsonResponse,
          body: {
            products: MatchersV3.eachLike({ ...product, id: uuidV4(example.productId) }, 2),
            nextPageToken: MatchersV3.regex(/.+/, "bmV4dA"),
          },
        });
      await pact.executeTest(async (mock) => {
        const page = await anonymous(mock.url).listProducts({ pageSize: 2 });
        expect(page.products).toHaveLength(2);
        expect(page.products.map((p) => minorUnits(p.price))).toEqual([1299n, 1299n]);
        expect(page.nextPageToken).toBe("bmV4dA");
      });
    });

    it("shows a product with its price", async () => {
      pact
        .given(states.productInStock, { available: "5" })
        .uponReceiving("a request for a product")
        .withRequest({ method: "GET", path: fromState("/v1/products/${productId}", `/v1/products/${example.productId}`) })
        .willRespondWith({ status: 200, headers: jsonResponse, body: { product } });
      await pact.executeTest(async (mock) => {
        const shown = await anonymous(mock.url).getProduct(example.productId);
        expect(shown).toMatchObject({ id: example.productId, name: "Mug", price: { currencyCode: "USD" } });
        expect(minorUnits(shown.price)).toBe(1299n);
      });
    });

    it("reports a product that does not exist as not found", async () => {
      pact
        .uponReceiving("a request for a product that does not exist")
        .withRequest({ method: "GET", path: `/v1/products/${unknownId}` })
        .willRespondWith({ status: 404, headers: jsonResponse, body: apiError("not_found", MatchersV3.includes(unknownId)) });
      await pact.executeTest(async (mock) => {
        await expect(anonymous(mock.url).getProduct(unknownId)).rejects.toMatchObject({ status: 404, code: "not_found" });
      });
    });

    it("shows how many units are available", async () => {
      pact
        .given(states.productInStock, { available: "5" })
        .uponReceiving("a request for a product's stock")
        .withRequest({ method: "GET", path: fromState("/v1/products/${productId}/stock", `/v1/products/${example.productId}/stock`) })
        .willRespondWith({
          status: 200,
          headers: jsonResponse,
          body: {
            stock: {
              productId: fromState("${productId}", example.productId),
              available: MatchersV3.integer(5),
              reserved: MatchersV3.integer(0),
            },
          },
        });
      await pact.executeTest(async (mock) => {
        expect(await anonymous(mock.url).getStock(example.productId)).toEqual({ productId: example.productId, available: 5, reserved: 0 });
      });
    });
  });

  describe("orders", () => {
    const placeRequest = (quantity: number) => ({
      method: "POST" as const,
      path: "/v1/orders",
      headers: { ...jsonRequest, Authorization: bearer, "Idempotency-Key": uuidV4(example.idempotencyKey) },
      body: {
        items: [{ productId: fromState("${productId}", example.productId), quantity }],
        shippingAddress: address,
        paymentToken: "tok_visa",
      },
    });

    it("places an order with an idempotency key and gets it back pending", async () => {
      pact
        .given(states.readyToOrder)
        .uponReceiving("an order placement with an idempotency key")
        .withRequest(placeRequest(2))
        .willRespondWith({
          status: 200,
          headers: jsonResponse,
          body: {
            order: {
              id: uuidV4(example.orderId),
              userId: fromState("${userId}", example.userId),
              status: "ORDER_STATUS_PENDING",
              items: MatchersV3.eachLike({ productId: uuidV4(example.productId), quantity: MatchersV3.integer(2) }),
              createTime: rfc3339(),
            },
          },
        });
      await pact.executeTest(async (mock) => {
        const order = await signedIn(mock.url).placeOrder(twoMugs(example.productId), example.idempotencyKey);
        expect(order).toMatchObject({
          id: example.orderId,
          status: "ORDER_STATUS_PENDING",
          items: [{ productId: example.productId, quantity: 2 }],
        });
      });
    });

    it("asks a visitor to sign in before ordering", async () => {
      pact
        .uponReceiving("an order placement without a token")
        .withRequest({
          method: "POST",
          path: "/v1/orders",
          headers: jsonRequest,
          body: { ...placeRequest(2).body, items: [{ productId: example.productId, quantity: 2 }] },
        })
        .willRespondWith({
          status: 401,
          headers: jsonResponse,
          body: apiError("unauthenticated", MatchersV3.string("authentication required")),
        });
      await pact.executeTest(async (mock) => {
        await expect(anonymous(mock.url).placeOrder(twoMugs(example.productId))).rejects.toMatchObject({
          status: 401,
          code: "unauthenticated",
        });
      });
    });

    it("shows which field of an order is wrong", async () => {
      pact
        .given(states.readyToOrder)
        .uponReceiving("an order placement with a quantity of zero")
        .withRequest(placeRequest(0))
        .willRespondWith({
          status: 400,
          headers: jsonResponse,
          body: apiError("invalid_argument", MatchersV3.includes("items[0].quantity")),
        });
      await pact.executeTest(async (mock) => {
        const failure = signedIn(mock.url).placeOrder(twoMugs(example.productId, 0), example.idempotencyKey);
        await expect(failure).rejects.toMatchObject({
          status: 400,
          code: "invalid_argument",
          message: expect.stringContaining("items[0].quantity"),
        });
      });
    });

    it("shows a confirmed order with its priced lines and total", async () => {
      const line = {
        productId: uuidV4(example.productId),
        name: MatchersV3.string("Mug"),
        quantity: MatchersV3.integer(2),
        unitPrice: money("1299"),
        lineTotal: money("2598"),
      };
      pact
        .given(states.confirmedOrder)
        .uponReceiving("a request for a confirmed order")
        .withRequest({
          method: "GET",
          path: fromState("/v1/orders/${orderId}", `/v1/orders/${example.orderId}`),
          headers: { Authorization: bearer },
        })
        .willRespondWith({
          status: 200,
          headers: jsonResponse,
          body: {
            order: {
              id: fromState("${orderId}", example.orderId),
              userId: fromState("${userId}", example.userId),
              status: "ORDER_STATUS_CONFIRMED",
              items: MatchersV3.eachLike(line),
              total: money("2598"),
              cancellationReason: "",
              createTime: rfc3339(),
              updateTime: rfc3339(),
            },
          },
        });
      await pact.executeTest(async (mock) => {
        const order = await signedIn(mock.url).getOrder(example.orderId);
        expect(order).toMatchObject({ id: example.orderId, status: "ORDER_STATUS_CONFIRMED", cancellationReason: "" });
        expect(minorUnits(order.total)).toBe(2598n);
        expect(order.items.map((item) => minorUnits(item.lineTotal!))).toEqual([2598n]);
      });
    });

    it("reports an order that does not exist as not found", async () => {
      pact
        .given(states.signedIn)
        .uponReceiving("a request for an order that does not exist")
        .withRequest({ method: "GET", path: `/v1/orders/${unknownId}`, headers: { Authorization: bearer } })
        .willRespondWith({ status: 404, headers: jsonResponse, body: apiError("not_found", MatchersV3.includes(unknownId)) });
      await pact.executeTest(async (mock) => {
        await expect(signedIn(mock.url).getOrder(unknownId)).rejects.toMatchObject({ status: 404, code: "not_found" });
      });
    });

    it("lists the customer's orders, newest first, on one page", async () => {
      pact
        .given(states.confirmedOrder)
        .uponReceiving("a request for the customer's orders")
        .withRequest({ method: "GET", path: "/v1/orders", query: { pageSize: "10" }, headers: { Authorization: bearer } })
        .willRespondWith({
          status: 200,
          headers: jsonResponse,
          body: {
            orders: MatchersV3.eachLike({
              id: uuidV4(example.orderId),
              status: MatchersV3.regex(/^ORDER_STATUS_(PENDING|CONFIRMED|CANCELLED)$/, "ORDER_STATUS_CONFIRMED"),
              total: money("2598"),
              createTime: rfc3339(),
            }),
            nextPageToken: "",
          },
        });
      await pact.executeTest(async (mock) => {
        const page = await signedIn(mock.url).listOrders({ pageSize: 10 });
        expect(page.orders.map((order) => order.id)).toEqual([example.orderId]);
        expect(page.nextPageToken).toBe("");
      });
    });

    it("cancels a confirmed order and shows why it ended", async () => {
      pact
        .given(states.confirmedOrder)
        .uponReceiving("a cancellation of a confirmed order")
        .withRequest({
          method: "POST",
          path: fromState("/v1/orders/${orderId}:cancel", `/v1/orders/${example.orderId}:cancel`),
          headers: { ...jsonRequest, Authorization: bearer },
          body: {},
        })
        .willRespondWith({
          status: 200,
          headers: jsonResponse,
          body: {
            order: {
              id: fromState("${orderId}", example.orderId),
              status: "ORDER_STATUS_CANCELLED",
              cancellationReason: "CUSTOMER_REQUESTED",
            },
          },
        });
      await pact.executeTest(async (mock) => {
        expect(await signedIn(mock.url).cancelOrder(example.orderId)).toMatchObject({
          status: "ORDER_STATUS_CANCELLED",
          cancellationReason: "CUSTOMER_REQUESTED",
        });
      });
    });

    it("shows the tracking number of a confirmed order's shipment", async () => {
      pact
        .given(states.confirmedOrder)
        .uponReceiving("a request for the shipment of a confirmed order")
        .withRequest({
          method: "GET",
          path: fromState("/v1/orders/${orderId}/shipment", `/v1/orders/${example.orderId}/shipment`),
          headers: { Authorization: bearer },
        })
        .willRespondWith({
          status: 200,
          headers: jsonResponse,
          body: {
            shipment: {
              orderId: fromState("${orderId}", example.orderId),
              status: "SHIPMENT_STATUS_CREATED",
              trackingNumber: MatchersV3.string("SHP-7K2M9QX4TB"),
            },
          },
        });
      await pact.executeTest(async (mock) => {
        expect(await signedIn(mock.url).getShipment(example.orderId)).toEqual({
          orderId: example.orderId,
          status: "SHIPMENT_STATUS_CREATED",
          trackingNumber: "SHP-7K2M9QX4TB",
        });
      });
    });
  });

  it("lists the customer's notifications", async () => {
    pact
      .given(states.confirmedOrder)
      .uponReceiving("a request for the customer's notifications")
      .withRequest({ method: "GET", path: "/v1/notifications", headers: { Authorization: bearer } })
      .willRespondWith({
        status: 200,
        headers: jsonResponse,
        body: {
          notifications: MatchersV3.eachLike({
            id: uuidV4("9e4b5c6d-7f8a-4b9c-8d1e-2f3a4b5c6d7e"),
            kind: MatchersV3.regex(/^NOTIFICATION_KIND_[A-Z_]+$/, "NOTIFICATION_KIND_ORDER_CONFIRMED"),
            orderId: uuidV4(example.orderId),
            subject: MatchersV3.string("Your order is confirmed"),
            body: MatchersV3.string(`Thank you! Order ${example.orderId} is confirmed. Total: $25.98.`),
            createTime: rfc3339(),
          }),
        },
      });
    await pact.executeTest(async (mock) => {
      const [notification] = await signedIn(mock.url).listNotifications();
      expect(notification).toMatchObject({
        kind: "NOTIFICATION_KIND_ORDER_CONFIRMED",
        orderId: example.orderId,
        subject: "Your order is confirmed",
      });
    });
  });
});

describe("gateway (provider) verifies the storefront pact", () => {
  let system: TestSystem;
  let stateSetup: StorefrontStateHandlers;

  beforeAll(async () => {
    system = await startSystem();
    stateSetup = storefrontStateHandlers(system);
  }, 120_000);

  afterAll(async () => {
    stateSetup?.close();
    await system?.stop();
  });

  it("answers every interaction the storefront recorded, with every service behind it", { timeout: 180_000 }, async () => {
    await verifyHttpPact({ consumer, provider, providerBaseUrl: system.gatewayUrl, stateHandlers: stateSetup.handlers });
  });
});
