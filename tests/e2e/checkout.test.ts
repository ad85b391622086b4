import { randomUUID } from "node:crypto";
import type { Client } from "@connectrpc/connect";
import { PaymentService, PaymentStatus } from "@shop/contracts/shop/payments/v1/payments_pb.js";
import { createServiceClient } from "@shop/runtime";
import { serviceCredential, waitFor } from "@shop/runtime/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type Customer,
  type ErrorJson,
  type OrderJson,
  type ShipmentJson,
  ShopApi,
  shippingAddress,
  type UserJson,
} from "./support/shop-api.js";
import { adminAccount, type ShopSystem, startShopSystem } from "./support/shop-system.js";

let system: ShopSystem;
let api: ShopApi;
let adminToken: string;
// Not on the public API: read over gRPC only to check that no authorization is left open.
let payments: Client<typeof PaymentService> & { close(): void };

beforeAll(async () => {
  system = await startShopSystem();
  api = new ShopApi(system.gatewayUrl);
  adminToken = await api.signIn(adminAccount.email, adminAccount.password);
  payments = createServiceClient(PaymentService, { address: system.addresses.payments, credential: serviceCredential("orders") });
}, 180_000);

afterAll(async () => {
  payments?.close();
  await system?.stop();
});

interface Checkout {
  items: { productId: string; quantity: number }[];
  paymentToken?: string;
  idempotencyKey?: string;
}

function orderBody({ items, paymentToken = "tok_visa" }: Checkout) {
  return { items, shippingAddress, paymentToken };
}

function placeOrder(customer: Customer, checkout: Checkout) {
  return api.request<{ order: OrderJson }>("POST", "/v1/orders", {
    token: customer.token,
    body: orderBody(checkout),
    headers: { "idempotency-key": checkout.idempotencyKey ?? randomUUID() },
  });
}

/** Places an order that the gateway must accept, and returns it as answered (PENDING). */
async function checkout(customer: Customer, items: Checkout["items"], paymentToken?: string): Promise<OrderJson> {
  const reply = await placeOrder(customer, { items, paymentToken });
  expect(reply.status, JSON.stringify(reply.body)).toBe(200);
  return reply.body.order;
}

async function paymentStatusOf(orderId: string): Promise<PaymentStatus> {
  return (await payments.getPayment({ orderId })).payment!.status;
}

/** Waits until the caller's notifications include one of `kind` about `orderId` (they are built from events). */
function notified(customer: Customer, orderId: string, kind: string) {
  return waitFor(
    () => api.notifications(customer.token),
    (list) => list.some((n) => n.orderId === orderId && n.kind === kind),
    { timeoutMs: 20_000, intervalMs: 50, what: `a ${kind} notification for order ${orderId}` },
  );
}

/** Waits until the caller's order history (a read model fed by events) shows the order in `status`. */
async function inHistory(customer: Customer, orderId: string, status: string): Promise<OrderJson> {
  const history = await waitFor(
    () => api.orderHistory(customer.token),
    (orders) => orders.some((o) => o.id === orderId && o.status === status),
    { timeoutMs: 20_000, intervalMs: 50, what: `order ${orderId} in the history as ${status}` },
  );
  return history.find((o) => o.id === orderId)!;
}

describe("checkout through the gateway", () => {
  it("confirms a tok_visa order at the catalog price, commits the stock, ships it, and tells the customer", async () => {
    const product = await api.createProduct(adminToken, { name: "Walnut Desk Lamp", priceMinor: 4_999, stock: 10 });
    const customer = await api.registerCustomer("Ada");

    const placed = await checkout(customer, [{ productId: product, quantity: 3 }]);
    expect(placed).toMatchObject({ userId: customer.user.id, status: "ORDER_STATUS_PENDING", cancellationReason: "" });

    const order = await api.settledOrder(placed.id, customer.token);
    expect(order.status).toBe("ORDER_STATUS_CONFIRMED");
    expect(order.total).toEqual({ currencyCode: "USD", amountMinor: "14997" });
    expect(order.items).toEqual([
      {
        productId: product,
        name: "Walnut Desk Lamp",
        unitPrice: { currencyCode: "USD", amountMinor: "4999" },
        quantity: 3,
        lineTotal: { currencyCode: "USD", amountMinor: "14997" },
      },
    ]);
    expect(await api.stock(product)).toEqual({ productId: product, available: 7, reserved: 0, committed: 3 });

    const { shipment } = await api.ok<{ shipment: ShipmentJson }>("GET", `/v1/orders/${order.id}/shipment`, { token: customer.token });
    expect(shipment).toMatchObject({ orderId: order.id, userId: customer.user.id, status: "SHIPMENT_STATUS_CREATED" });
    expect(shipment.trackingNumber).toMatch(/\S{6,}/);
    expect(await paymentStatusOf(order.id)).toBe(PaymentStatus.CAPTURED);

    await notified(customer, order.id, "NOTIFICATION_KIND_ORDER_CONFIRMED");
    await notified(customer, order.id, "NOTIFICATION_KIND_SHIPMENT_CREATED");
    expect(await inHistory(customer, order.id, "ORDER_STATUS_CONFIRMED")).toMatchObject({ total: order.total, items: order.items });
  });

  it("cancels a tok_decline order with PAYMENT_DECLINED and leaves the stock untouched", async () => {
    const product = await api.createProduct(adminToken, { name: "Enamel Mug", priceMinor: 1_250, stock: 4 });
    const customer = await api.registerCustomer("Barbara");

    const placed = await checkout(customer, [{ productId: product, quantity: 2 }], "tok_decline");
    expect(placed.status).toBe("ORDER_STATUS_PENDING");

    const order = await api.settledOrder(placed.id, customer.token);
    expect(order).toMatchObject({ status: "ORDER_STATUS_CANCELLED", cancellationReason: "PAYMENT_DECLINED" });
    expect(await api.stock(product)).toEqual({ productId: product, available: 4, reserved: 0, committed: 0 });
    expect(await paymentStatusOf(order.id)).toBe(PaymentStatus.DECLINED);
    const shipment = await api.request<ErrorJson>("GET", `/v1/orders/${order.id}/shipment`, { token: customer.token });
    expect([shipment.status, shipment.body.code]).toEqual([404, "not_found"]);

    await notified(customer, order.id, "NOTIFICATION_KIND_ORDER_CANCELLED");
    await inHistory(customer, order.id, "ORDER_STATUS_CANCELLED");
  });

  it("cancels an order for more than is in stock with INSUFFICIENT_STOCK and voids the authorization", async () => {
    const product = await api.createProduct(adminToken, { name: "Linen Apron", priceMinor: 2_000, stock: 2 });
    const customer = await api.registerCustomer("Claude");

    const placed = await checkout(customer, [{ productId: product, quantity: 3 }]);
    const order = await api.settledOrder(placed.id, customer.token);
    expect(order).toMatchObject({ status: "ORDER_STATUS_CANCELLED", cancellationReason: "INSUFFICIENT_STOCK" });
    expect(await paymentStatusOf(order.id)).toBe(PaymentStatus.VOIDED);
    expect(await api.stock(product)).toEqual({ productId: product, available: 2, reserved: 0, committed: 0 });
  });

  it("confirms a tok_flaky order once the transient payment failures are retried", async () => {
    const product = await api.createProduct(adminToken, { name: "Brass Bookend", priceMinor: 3_300, stock: 5 });
    const customer = await api.registerCustomer("Dennis");

    const placed = await checkout(customer, [{ productId: product, quantity: 1 }], "tok_flaky");
    const order = await api.settledOrder(placed.id, customer.token);
    expect(order).toMatchObject({ status: "ORDER_STATUS_CONFIRMED", total: { currencyCode: "USD", amountMinor: "3300" } });
    expect(await paymentStatusOf(order.id)).toBe(PaymentStatus.CAPTURED);
    expect(await api.stock(product)).toMatchObject({ available: 4, committed: 1 });
  });

  it("cancels a confirmed order on request: refunded, shipment cancelled, a second cancel refused", async () => {
    const product = await api.createProduct(adminToken, { name: "Oak Cutting Board", priceMinor: 2_750, stock: 3 });
    const customer = await api.registerCustomer("Edsger");
    const placed = await checkout(customer, [{ productId: product, quantity: 1 }]);
    expect((await api.settledOrder(placed.id, customer.token)).status).toBe("ORDER_STATUS_CONFIRMED");

    const cancelled = await api.request<{ order: OrderJson }>("POST", `/v1/orders/${placed.id}:cancel`, {
      token: customer.token,
      body: {},
    });
    expect(cancelled.status).toBe(200);
    expect(cancelled.body.order).toMatchObject({
      id: placed.id,
      status: "ORDER_STATUS_CANCELLED",
      cancellationReason: "CUSTOMER_REQUESTED",
    });
    expect(await paymentStatusOf(placed.id)).toBe(PaymentStatus.REFUNDED);
    const { shipment } = await api.ok<{ shipment: ShipmentJson }>("GET", `/v1/orders/${placed.id}/shipment`, { token: customer.token });
    expect(shipment.status).toBe("SHIPMENT_STATUS_CANCELLED");

    const again = await api.request<ErrorJson>("POST", `/v1/orders/${placed.id}:cancel`, { token: customer.token, body: {} });
    expect(again.status).toBe(412);
    expect(again.body).toMatchObject({ code: "failed_precondition", message: expect.stringContaining("already cancelled") });

    await notified(customer, placed.id, "NOTIFICATION_KIND_PAYMENT_REFUNDED");
    await inHistory(customer, placed.id, "ORDER_STATUS_CANCELLED");
  });

  it("composes the caller's summary from users, orders and notifications", async () => {
    const product = await api.createProduct(adminToken, { name: "Wool Throw", priceMinor: 8_900, stock: 2 });
    const customer = await api.registerCustomer("Frances");
    const placed = await checkout(customer, [{ productId: product, quantity: 1 }]);
    await api.settledOrder(placed.id, customer.token);
    await notified(customer, placed.id, "NOTIFICATION_KIND_ORDER_CONFIRMED");
    await inHistory(customer, placed.id, "ORDER_STATUS_CONFIRMED");

    const summary = await api.ok<{ user: UserJson; recentOrders: OrderJson[]; notifications: { orderId: string; kind: string }[] }>(
      "GET",
      "/v1/me/summary",
      { token: customer.token },
    );
    expect(summary.user).toMatchObject({ id: customer.user.id, email: customer.user.email, role: "ROLE_CUSTOMER" });
    expect(summary.recentOrders.map((o) => [o.id, o.status])).toEqual([[placed.id, "ORDER_STATUS_CONFIRMED"]]);
    expect(summary.notifications).toContainEqual(
      expect.objectContaining({ orderId: placed.id, kind: "NOTIFICATION_KIND_ORDER_CONFIRMED" }),
    );

    const anonymous = await api.request<ErrorJson>("GET", "/v1/me/summary");
    expect([anonymous.status, anonymous.body.code]).toEqual([401, "unauthenticated"]);
  });
});

describe("the payment of an order, from its ledger", () => {
  interface PaymentJson {
    status: string;
    userId: string;
    amount: { currencyCode: string; amountMinor: string };
  }
  interface HistoryJson {
    version: number;
    type: string;
    amount?: { currencyCode: string; amountMinor: string };
    occurTime: string;
    reason: string;
  }
  type OrderPaymentJson = { payment: PaymentJson; history: HistoryJson[] };

  it("lists AUTHORIZED then CAPTURED for a confirmed order, appends REFUNDED when it is cancelled, and folds up to asOf", async () => {
    const product = await api.createProduct(adminToken, { name: "Ash Serving Tray", priceMinor: 3_150, stock: 2 });
    const customer = await api.registerCustomer("Niklaus");
    const placed = await checkout(customer, [{ productId: product, quantity: 2 }]);
    expect((await api.settledOrder(placed.id, customer.token)).status).toBe("ORDER_STATUS_CONFIRMED");
    const path = `/v1/orders/${placed.id}/payment`;
    const amount = { currencyCode: "USD", amountMinor: "6300" };

    const confirmed = await api.ok<OrderPaymentJson>("GET", path, { token: customer.token });
    expect(confirmed.payment).toMatchObject({ status: "PAYMENT_STATUS_CAPTURED", userId: customer.user.id, amount });
    expect(confirmed.history.map(({ version, type, amount }) => ({ version, type, amount }))).toEqual([
      { version: 1, type: "PAYMENT_EVENT_TYPE_AUTHORIZED", amount },
      { version: 2, type: "PAYMENT_EVENT_TYPE_CAPTURED", amount },
    ]);

    const cancelled = await api.request<{ order: OrderJson }>("POST", `/v1/orders/${placed.id}:cancel`, {
      token: customer.token,
      body: {},
    });
    expect(cancelled.body.order.status).toBe("ORDER_STATUS_CANCELLED");
    const refunded = await api.ok<OrderPaymentJson>("GET", path, { token: customer.token });
    expect(refunded.payment.status).toBe("PAYMENT_STATUS_REFUNDED");
    expect(refunded.history.map((entry) => entry.type)).toEqual([
      "PAYMENT_EVENT_TYPE_AUTHORIZED",
      "PAYMENT_EVENT_TYPE_CAPTURED",
      "PAYMENT_EVENT_TYPE_REFUNDED",
    ]);
    expect(refunded.history.slice(0, 2)).toEqual(confirmed.history);

    const capturedAt = confirmed.history[1]!.occurTime;
    const asOf = await api.ok<OrderPaymentJson>("GET", `${path}?asOf=${encodeURIComponent(capturedAt)}`, { token: adminToken });
    expect(asOf).toEqual(confirmed);
    const bad = await api.request<ErrorJson>("GET", `${path}?asOf=yesterday`, { token: customer.token });
    expect([bad.status, bad.body.code]).toEqual([400, "invalid_argument"]);
  });

  it("is shown to the order's owner and admins only", async () => {
    const product = await api.createProduct(adminToken, { name: "Rye Bread Box", priceMinor: 4_000, stock: 1 });
    const owner = await api.registerCustomer("Ole");
    const stranger = await api.registerCustomer("Peter");
    const placed = await checkout(owner, [{ productId: product, quantity: 1 }]);
    await api.settledOrder(placed.id, owner.token);
    const path = `/v1/orders/${placed.id}/payment`;

    const asStranger = await api.request<ErrorJson>("GET", path, { token: stranger.token });
    expect([asStranger.status, asStranger.body.code]).toEqual([403, "permission_denied"]);
    const anonymous = await api.request<ErrorJson>("GET", path);
    expect([anonymous.status, anonymous.body.code]).toEqual([401, "unauthenticated"]);
    expect((await api.request("GET", path, { token: adminToken })).status).toBe(200);
    const missing = await api.request<ErrorJson>("GET", `/v1/orders/${randomUUID()}/payment`, { token: owner.token });
    expect([missing.status, missing.body.code]).toEqual([404, "not_found"]);
  });
});

describe("Idempotency-Key on POST /v1/orders", () => {
  it("answers the same key and body with the same order, and a different body under that key with 422", async () => {
    const product = await api.createProduct(adminToken, { name: "Copper Kettle", priceMinor: 6_400, stock: 10 });
    const customer = await api.registerCustomer("Grace");
    const idempotencyKey = `checkout-${randomUUID()}`;
    const request = { items: [{ productId: product, quantity: 1 }], idempotencyKey };

    const first = await placeOrder(customer, request);
    expect(first.status).toBe(200);
    const repeated = await placeOrder(customer, request);
    expect(repeated.status).toBe(200);
    expect(repeated.body.order.id).toBe(first.body.order.id);
    expect(repeated.headers.get("idempotent-replayed")).toBe("true");

    const changed = await placeOrder(customer, { ...request, items: [{ productId: product, quantity: 2 }] });
    expect(changed.status).toBe(422);
    expect(changed.body).toMatchObject({ code: "invalid_argument", message: expect.stringContaining("Idempotency-Key") });

    await api.settledOrder(first.body.order.id, customer.token);
    expect(await api.stock(product)).toMatchObject({ available: 9, committed: 1 });

    // Keys belong to their caller: the same key from someone else is a new order.
    const other = await placeOrder(await api.registerCustomer("Hedy"), request);
    expect(other.status).toBe(200);
    expect(other.body.order.id).not.toBe(first.body.order.id);
  });

  it("answers a key reused for a different order with 422 over Connect too, the orders service comparing the requests", async () => {
    const product = await api.createProduct(adminToken, { name: "Pewter Jug", priceMinor: 2_200, stock: 10 });
    const customer = await api.registerCustomer("Joan");
    const idempotencyKey = `connect-${randomUUID()}`;
    const place = (quantity: number) =>
      fetch(`${system.gatewayUrl}/shop.orders.v1.OrderService/PlaceOrder`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "connect-protocol-version": "1",
          authorization: `Bearer ${customer.token}`,
          "idempotency-key": idempotencyKey,
        },
        body: JSON.stringify({ items: [{ productId: product, quantity }], shippingAddress, paymentToken: "tok_visa" }),
      }).then(async (r) => ({ status: r.status, body: (await r.json()) as { order: OrderJson } & ErrorJson }));
    const first = await place(1);
    expect(first.status).toBe(200);
    expect((await place(1)).body.order.id).toBe(first.body.order.id);
    expect(await place(3)).toEqual({
      status: 422,
      body: { code: "invalid_argument", message: "Idempotency-Key: already used for a different order" },
    });
  });

  it("refuses a malformed key naming the header", async () => {
    const product = await api.createProduct(adminToken, { name: "Glass Carafe", priceMinor: 1_900, stock: 1 });
    const reply = await placeOrder(await api.registerCustomer("Ida"), {
      items: [{ productId: product, quantity: 1 }],
      idempotencyKey: "k".repeat(256),
    });
    expect(reply.status).toBe(400);
    expect(reply.body).toMatchObject({ code: "invalid_argument", message: expect.stringContaining("Idempotency-Key") });
  });
});

describe("who may see an order", () => {
  it("lets the owner and admins read an order and its shipment; another customer gets 403, anonymous 401", async () => {
    const product = await api.createProduct(adminToken, { name: "Cast Iron Pan", priceMinor: 5_500, stock: 3 });
    const owner = await api.registerCustomer("Joan");
    const stranger = await api.registerCustomer("Ken");
    const placed = await checkout(owner, [{ productId: product, quantity: 1 }]);
    await api.settledOrder(placed.id, owner.token);

    for (const path of [`/v1/orders/${placed.id}`, `/v1/orders/${placed.id}/shipment`]) {
      const asStranger = await api.request<ErrorJson>("GET", path, { token: stranger.token });
      expect([path, asStranger.status, asStranger.body.code]).toEqual([path, 403, "permission_denied"]);
      const anonymous = await api.request<ErrorJson>("GET", path);
      expect([path, anonymous.status, anonymous.body.code]).toEqual([path, 401, "unauthenticated"]);
      expect(anonymous.headers.get("www-authenticate")).toBe("Bearer");
      const asAdmin = await api.request<{ order?: OrderJson; shipment?: ShipmentJson }>("GET", path, { token: adminToken });
      expect([path, asAdmin.status]).toEqual([path, 200]);
      expect((asAdmin.body.order ?? asAdmin.body.shipment)!.userId).toBe(owner.user.id);
    }

    const strangerCancel = await api.request<ErrorJson>("POST", `/v1/orders/${placed.id}:cancel`, { token: stranger.token, body: {} });
    expect([strangerCancel.status, strangerCancel.body.code]).toEqual([403, "permission_denied"]);
    expect((await api.order(placed.id, owner.token)).status).toBe("ORDER_STATUS_CONFIRMED");
    expect(await api.orderHistory(stranger.token)).toEqual([]);
    expect(await api.notifications(stranger.token)).toEqual([]);

    const anonymousOrder = await api.request<ErrorJson>("POST", "/v1/orders", {
      body: orderBody({ items: [{ productId: product, quantity: 1 }] }),
    });
    expect([anonymousOrder.status, anonymousOrder.body.code]).toEqual([401, "unauthenticated"]);
    const forged = await api.request<ErrorJson>("GET", `/v1/orders/${placed.id}`, { token: `${owner.token.slice(0, -4)}AAAA` });
    expect([forged.status, forged.body.code]).toEqual([401, "unauthenticated"]);
  });

  it("answers 404 for an order nobody placed", async () => {
    const customer = await api.registerCustomer("Linus");
    const missing = randomUUID();
    const reply = await api.request<ErrorJson>("GET", `/v1/orders/${missing}`, { token: customer.token });
    expect(reply.status).toBe(404);
    expect(reply.body).toMatchObject({ code: "not_found", message: expect.stringContaining(missing) });
  });
});

describe("bad checkout requests", () => {
  const product = "5f0c7a52-4d5e-4a34-9b47-2a8f6d1e0c11";
  let customer: Customer;

  beforeAll(async () => {
    customer = await api.registerCustomer("Margaret");
  });

  it.each([
    ["an empty item list", { items: [], shippingAddress, paymentToken: "tok_visa" }, "items"],
    ["a zero quantity", { items: [{ productId: product, quantity: 0 }], shippingAddress, paymentToken: "tok_visa" }, "items[0].quantity"],
    [
      "a malformed product id",
      { items: [{ productId: "lamp", quantity: 1 }], shippingAddress, paymentToken: "tok_visa" },
      "items[0].productId",
    ],
    ["a missing address", { items: [{ productId: product, quantity: 1 }], paymentToken: "tok_visa" }, "shippingAddress"],
    [
      "a bad country code",
      {
        items: [{ productId: product, quantity: 1 }],
        shippingAddress: { ...shippingAddress, countryCode: "usa" },
        paymentToken: "tok_visa",
      },
      "shippingAddress.countryCode",
    ],
    [
      "a quantity of the wrong type",
      { items: [{ productId: product, quantity: "two" }], shippingAddress, paymentToken: "tok_visa" },
      "quantity",
    ],
    [
      "an unknown field",
      { items: [{ productId: product, quantity: 1 }], shippingAddress, paymentToken: "tok_visa", coupon: "FREE" },
      "coupon",
    ],
  ])("answers 400 naming the field for %s", async (_, body, field) => {
    const reply = await api.request<ErrorJson>("POST", "/v1/orders", {
      token: customer.token,
      body,
      headers: { "idempotency-key": randomUUID() },
    });
    expect(reply.status).toBe(400);
    expect(reply.body.code).toBe("invalid_argument");
    expect(reply.body.message).toContain(field);
    expect(await api.orderHistory(customer.token)).toEqual([]);
  });
});
