import { randomUUID } from "node:crypto";
import { Code, ConnectError } from "@connectrpc/connect";
import { type Order, OrderStatus } from "@shop/contracts/shop/orders/v1/orders_pb.js";
import { PaymentStatus } from "@shop/contracts/shop/payments/v1/payments_pb.js";
import { ShipmentStatus } from "@shop/contracts/shop/shipping/v1/shipping_pb.js";
import { createSqlDatabase } from "@shop/runtime";
import { adminHeaders, callerHeaders, failureOf, waitFor } from "@shop/runtime/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { admin, type CheckoutStack, startCheckoutStack } from "./testing/checkout-stack.js";
import { StepGate } from "./testing/step-gate.js";

let stack: CheckoutStack;
const gate = new StepGate();

const address = {
  recipient: "Ada Lovelace",
  line1: "12 Analytical Row",
  line2: "",
  city: "London",
  postalCode: "N1 7AA",
  countryCode: "GB",
};

/** A customer of its own per test, so nothing is shared between tests. */
function customer() {
  const userId = randomUUID();
  return { userId, call: { headers: callerHeaders(userId) } };
}

/** Places an order of `[productId, quantity]` lines. */
async function checkout(
  call: { headers: Record<string, string> },
  lines: [string, number][],
  paymentToken = "tok_visa",
  shippingAddress = address,
) {
  const items = lines.map(([productId, quantity]) => ({ productId, quantity }));
  return (await stack.orders.placeOrder({ items, shippingAddress, paymentToken }, call)).order!;
}

async function finalOrder(orderId: string, call = admin): Promise<Order> {
  return waitFor(
    async () => (await stack.orders.getOrder({ orderId }, call)).order!,
    (order) => order.status !== OrderStatus.PENDING,
    { timeoutMs: 20_000, what: `order ${orderId} to end` },
  );
}

async function finalCancellation(orderId: string, call = admin): Promise<Order> {
  return waitFor(
    async () => (await stack.orders.getOrder({ orderId }, call)).order!,
    (order) => order.status === OrderStatus.CANCELLED,
    { timeoutMs: 20_000, what: `order ${orderId} to be cancelled` },
  );
}

async function stockOf(productId: string) {
  return (await stack.inventory.getStock({ productId })).stock!;
}

beforeAll(async () => {
  stack = await startCheckoutStack({ overrides: { wrapExecutor: gate.wrap("orders") }, env: { ORDER_CANCEL_WAIT_MS: "500" } });
});

afterAll(async () => {
  await stack?.stop();
});

describe("checkout", () => {
  it("confirms a tok_visa order: priced from the catalog snapshot, stock committed, shipment created, payment captured", async () => {
    const mug = await stack.addProduct({ priceMinor: 1250n, stock: 10, name: "Mug" });
    const lamp = await stack.addProduct({ priceMinor: 4999n, stock: 5, name: "Lamp" });
    const { userId, call } = customer();

    const placed = await checkout(call, [
      [mug, 3],
      [lamp, 1],
    ]);
    expect(placed).toMatchObject({ userId, status: OrderStatus.PENDING, cancellationReason: "" });
    expect(placed.items.map((i) => [i.productId, i.quantity])).toEqual([
      [mug, 3],
      [lamp, 1],
    ]);

    const order = await finalOrder(placed.id, call);
    expect(order.status).toBe(OrderStatus.CONFIRMED);
    expect(order.total).toMatchObject({ currencyCode: "USD", amountMinor: 3n * 1250n + 4999n });
    expect(order.items.map((i) => [i.name, i.unitPrice?.amountMinor, i.lineTotal?.amountMinor])).toEqual([
      ["Mug", 1250n, 3750n],
      ["Lamp", 4999n, 4999n],
    ]);
    expect(await stockOf(mug)).toMatchObject({ available: 7, reserved: 0, committed: 3 });
    expect(await stockOf(lamp)).toMatchObject({ available: 4, reserved: 0, committed: 1 });
    const { shipment } = await stack.shipping.getShipment({ orderId: order.id }, call);
    expect(shipment).toMatchObject({ status: ShipmentStatus.CREATED, userId, address: { city: "London" } });
    const { payment } = await stack.payments.getPayment({ orderId: order.id });
    expect(payment).toMatchObject({ status: PaymentStatus.CAPTURED, amount: { amountMinor: 8749n } });

    // The order keeps the price it was sold at.
    await stack.catalog.updateProductPrice({ productId: mug, price: { currencyCode: "USD", amountMinor: 9999n } }, admin);
    expect((await stack.orders.getOrder({ orderId: order.id }, call)).order!.total!.amountMinor).toBe(8749n);
  });

  it("cancels an order whose total would overflow int64 with PRODUCT_UNAVAILABLE: a product priced 9223372036854775807, ordered twice", async () => {
    const product = await stack.addProduct({ priceMinor: 100n, stock: 5, name: "Priced before the ceiling" });
    const catalogDb = createSqlDatabase(stack.catalogDatabaseUrl);
    try {
      await catalogDb.execute(`UPDATE products SET price_minor = 9223372036854775807 WHERE id = $1::uuid`, [product]);
    } finally {
      await catalogDb.close();
    }
    const { call } = customer();
    const placed = await checkout(call, [[product, 2]]);
    const order = await finalOrder(placed.id, call);
    expect(order).toMatchObject({ status: OrderStatus.CANCELLED, cancellationReason: "PRODUCT_UNAVAILABLE" });
    expect(await stockOf(product)).toMatchObject({ available: 5, reserved: 0, committed: 0 });
  });

  it("refuses a price over the ceiling when a product is created or repriced, naming the field", async () => {
    const price = { currencyCode: "USD", amountMinor: 9223372036854775807n };
    const created = await failureOf(stack.catalog.createProduct({ sku: "TOO-DEAR", name: "Too dear", description: "", price }, admin));
    expect(created).toMatchObject({
      code: Code.InvalidArgument,
      message: expect.stringContaining("price: amountMinor must be at most 100000000000"),
    });
    const product = await stack.addProduct({ priceMinor: 100n, stock: 1 });
    const repriced = await failureOf(stack.catalog.updateProductPrice({ productId: product, price }, admin));
    expect(repriced).toMatchObject({ code: Code.InvalidArgument, message: expect.stringContaining("price: amountMinor must be at most") });
  });

  it("cancels a tok_decline order with PAYMENT_DECLINED and leaves the stock untouched", async () => {
    const product = await stack.addProduct({ priceMinor: 800n, stock: 4 });
    const { call } = customer();
    const placed = await checkout(call, [[product, 2]], "tok_decline");

    const order = await finalOrder(placed.id, call);
    expect(order).toMatchObject({ status: OrderStatus.CANCELLED, cancellationReason: "PAYMENT_DECLINED" });
    expect(await stockOf(product)).toMatchObject({ available: 4, reserved: 0, committed: 0 });
    expect((await stack.payments.getPayment({ orderId: order.id })).payment!.status).toBe(PaymentStatus.DECLINED);
    expect(gate.actionsOf(order.id).map((a) => a.action)).not.toContain("RESERVE");
  });

  it("cancels an order for more than is in stock with INSUFFICIENT_STOCK and voids the authorization", async () => {
    const product = await stack.addProduct({ priceMinor: 300n, stock: 2 });
    const { call } = customer();
    const placed = await checkout(call, [[product, 3]], "tok_visa");

    const order = await finalOrder(placed.id, call);
    expect(order).toMatchObject({ status: OrderStatus.CANCELLED, cancellationReason: "INSUFFICIENT_STOCK" });
    expect((await stack.payments.getPayment({ orderId: order.id })).payment!.status).toBe(PaymentStatus.VOIDED);
    expect(await stockOf(product)).toMatchObject({ available: 2, reserved: 0, committed: 0 });
  });

  it("confirms a tok_flaky order after retrying the transient failures", async () => {
    const product = await stack.addProduct({ priceMinor: 1500n, stock: 3 });
    const { call } = customer();
    const placed = await checkout(call, [[product, 1]], "tok_flaky");

    const order = await finalOrder(placed.id, call);
    expect(order.status).toBe(OrderStatus.CONFIRMED);
    expect((await stack.payments.getPayment({ orderId: order.id })).payment!.status).toBe(PaymentStatus.CAPTURED);
    // One AUTHORIZE step, which retried inside its budget.
    expect(gate.actionsOf(order.id).filter((a) => a.action === "AUTHORIZE")).toHaveLength(1);
  });

  it("cancels an order of an unknown product with PRODUCT_UNAVAILABLE before touching payments", async () => {
    const product = await stack.addProduct({ priceMinor: 100n, stock: 3 });
    const { call } = customer();
    const placed = await checkout(call, [
      [product, 1],
      [randomUUID(), 1],
    ]);

    const order = await finalOrder(placed.id, call);
    expect(order).toMatchObject({ status: OrderStatus.CANCELLED, cancellationReason: "PRODUCT_UNAVAILABLE" });
    expect(gate.actionsOf(order.id).map((a) => a.action)).toEqual(["PRICE"]);
    expect((await failureOf(stack.payments.getPayment({ orderId: order.id }))).code).toBe(Code.NotFound);
    expect(await stockOf(product)).toMatchObject({ available: 3, reserved: 0 });
  });

  it("cancels products priced in different currencies instead of charging one of them", async () => {
    const dollars = await stack.addProduct({ priceMinor: 100n, stock: 3 });
    const euros = await stack.addProduct({ priceMinor: 100n, stock: 3, currency: "EUR" });
    const { call } = customer();
    const placed = await checkout(call, [
      [dollars, 1],
      [euros, 1],
    ]);
    expect(await finalOrder(placed.id, call)).toMatchObject({ status: OrderStatus.CANCELLED, cancellationReason: "PRODUCT_UNAVAILABLE" });
  });
});

describe("cancelling", () => {
  it("stops a PENDING order's saga at the next step and undoes payment, stock and shipment", async () => {
    const product = await stack.addProduct({ priceMinor: 2000n, stock: 5 });
    const { call } = customer();
    const held = gate.hold("SHIP", (order) => order.shippingAddress.recipient === "Cancel While Pending");
    const placed = await checkout(call, [[product, 2]], "tok_visa", { ...address, recipient: "Cancel While Pending" });
    await held.reached;
    expect(await stockOf(product)).toMatchObject({ available: 3, reserved: 2 });

    const { order: answered } = await stack.orders.cancelOrder({ orderId: placed.id }, call);
    expect(answered!.status).toBe(OrderStatus.PENDING);
    held.open();

    const order = await finalOrder(placed.id, call);
    expect(order).toMatchObject({ status: OrderStatus.CANCELLED, cancellationReason: "CUSTOMER_REQUESTED" });
    expect(gate.actionsOf(order.id).map((a) => a.action)).toEqual([
      "PRICE",
      "AUTHORIZE",
      "RESERVE",
      "SHIP",
      "CANCEL_SHIPMENT",
      "RELEASE_STOCK",
      "VOID_PAYMENT",
    ]);
    expect(await stockOf(product)).toMatchObject({ available: 5, reserved: 0, committed: 0 });
    expect((await stack.payments.getPayment({ orderId: order.id })).payment!.status).toBe(PaymentStatus.VOIDED);
    expect((await stack.shipping.getShipment({ orderId: order.id }, call)).shipment!.status).toBe(ShipmentStatus.CANCELLED);
  });

  it("cancels a CONFIRMED order: shipment cancelled, payment refunded, answered CANCELLED", async () => {
    const product = await stack.addProduct({ priceMinor: 700n, stock: 5 });
    const { call } = customer();
    const placed = await checkout(call, [[product, 1]], "tok_visa");
    expect((await finalOrder(placed.id, call)).status).toBe(OrderStatus.CONFIRMED);

    const { order } = await stack.orders.cancelOrder({ orderId: placed.id }, call);
    expect(order).toMatchObject({ status: OrderStatus.CANCELLED, cancellationReason: "CUSTOMER_REQUESTED" });
    expect((await stack.payments.getPayment({ orderId: order!.id })).payment!.status).toBe(PaymentStatus.REFUNDED);
    expect((await stack.shipping.getShipment({ orderId: order!.id }, call)).shipment!.status).toBe(ShipmentStatus.CANCELLED);

    const again = await failureOf(stack.orders.cancelOrder({ orderId: order!.id }, call));
    expect(again.code).toBe(Code.FailedPrecondition);
    expect(again.message).toContain("already cancelled");
  });

  it("answers with the CONFIRMED order when the cancellation takes longer than the wait, and completes it later", async () => {
    const product = await stack.addProduct({ priceMinor: 900n, stock: 5 });
    const { call } = customer();
    const placed = await checkout(call, [[product, 1]], "tok_visa", { ...address, recipient: "Slow Cancel" });
    expect((await finalOrder(placed.id, call)).status).toBe(OrderStatus.CONFIRMED);
    const held = gate.hold("CANCEL_SHIPMENT", (order) => order.id === placed.id);

    const { order: answered } = await stack.orders.cancelOrder({ orderId: placed.id }, call);
    expect(answered!.status).toBe(OrderStatus.CONFIRMED);
    await held.reached;
    held.open();

    expect(await finalCancellation(placed.id, call)).toMatchObject({
      status: OrderStatus.CANCELLED,
      cancellationReason: "CUSTOMER_REQUESTED",
    });
    expect((await stack.payments.getPayment({ orderId: placed.id })).payment!.status).toBe(PaymentStatus.REFUNDED);
  });

  it("refuses with FAILED_PRECONDITION once the shipment is dispatched, and the order stays CONFIRMED", async () => {
    const product = await stack.addProduct({ priceMinor: 700n, stock: 5 });
    const { call } = customer();
    const placed = await checkout(call, [[product, 1]], "tok_visa");
    await finalOrder(placed.id, call);
    await stack.shipping.dispatchShipment({ orderId: placed.id }, admin);

    const refused = await failureOf(stack.orders.cancelOrder({ orderId: placed.id }, call));
    expect(refused.code).toBe(Code.FailedPrecondition);
    expect(refused.message).toContain("can no longer be cancelled");
    expect((await stack.orders.getOrder({ orderId: placed.id }, call)).order!.status).toBe(OrderStatus.CONFIRMED);
    expect((await stack.payments.getPayment({ orderId: placed.id })).payment!.status).toBe(PaymentStatus.CAPTURED);
  });
});

describe("idempotency and access", () => {
  it("returns the first order for a repeated idempotency key of the same user, and runs one saga", async () => {
    const product = await stack.addProduct({ priceMinor: 500n, stock: 10 });
    const { userId } = customer();
    const key = { headers: { ...callerHeaders(userId), "idempotency-key": `checkout-${randomUUID()}` } };
    const request = { items: [{ productId: product, quantity: 1 }], shippingAddress: address, paymentToken: "tok_visa" };

    const [first, second] = await Promise.all([stack.orders.placeOrder(request, key), stack.orders.placeOrder(request, key)]);
    expect(second.order!.id).toBe(first.order!.id);
    const third = await stack.orders.placeOrder(request, key);
    expect(third.order!.id).toBe(first.order!.id);
    await finalOrder(first.order!.id);
    expect(gate.actionsOf(first.order!.id).filter((a) => a.action === "AUTHORIZE")).toHaveLength(1);
    expect(await stockOf(product)).toMatchObject({ available: 9, committed: 1 });

    // The same key from someone else is a different order.
    const sameKeyOtherUser = { headers: { ...customer().call.headers, "idempotency-key": key.headers["idempotency-key"] } };
    const other = await stack.orders.placeOrder(request, sameKeyOtherUser);
    expect(other.order!.id).not.toBe(first.order!.id);
  });

  it("refuses a repeated idempotency key with a different request, naming the key, and places nothing", async () => {
    const product = await stack.addProduct({ priceMinor: 500n, stock: 10 });
    const { userId } = customer();
    const key = { headers: { ...callerHeaders(userId), "idempotency-key": `checkout-${randomUUID()}` } };
    const request = { items: [{ productId: product, quantity: 1 }], shippingAddress: address, paymentToken: "tok_visa" };
    const first = await stack.orders.placeOrder(request, key);
    for (const different of [
      { ...request, items: [{ productId: product, quantity: 2 }] },
      { ...request, shippingAddress: { ...address, city: "Leeds" } },
      { ...request, paymentToken: "tok_decline" },
    ]) {
      const refused = await stack.orders.placeOrder(different, key).catch((err: unknown) => ConnectError.from(err));
      expect(refused).toMatchObject({ code: Code.InvalidArgument, rawMessage: "Idempotency-Key: already used for a different order" });
      expect((refused as ConnectError).metadata.get("x-shop-idempotency-conflict")).toBe("different-request");
    }
    expect((await stack.orders.placeOrder(request, key)).order!.id).toBe(first.order!.id);
  });

  it("shows an order to its owner and admins only", async () => {
    const product = await stack.addProduct({ priceMinor: 500n, stock: 10 });
    const owner = customer();
    const order = await checkout(owner.call, [[product, 1]]);

    expect((await stack.orders.getOrder({ orderId: order.id }, owner.call)).order!.id).toBe(order.id);
    expect((await stack.orders.getOrder({ orderId: order.id }, { headers: adminHeaders() })).order!.userId).toBe(owner.userId);
    expect((await failureOf(stack.orders.getOrder({ orderId: order.id }, customer().call))).code).toBe(Code.PermissionDenied);
    expect((await failureOf(stack.orders.cancelOrder({ orderId: order.id }, customer().call))).code).toBe(Code.PermissionDenied);
    expect((await failureOf(stack.orders.getOrder({ orderId: order.id }))).code).toBe(Code.Unauthenticated);
    expect((await failureOf(checkout({ headers: {} }, [[product, 1]]))).code).toBe(Code.Unauthenticated);
    expect((await failureOf(stack.orders.getOrder({ orderId: randomUUID() }, owner.call))).code).toBe(Code.NotFound);
    expect((await failureOf(stack.orders.cancelOrder({ orderId: randomUUID() }, owner.call))).code).toBe(Code.NotFound);
  });
});

describe("bad input", () => {
  const product = "5f0c7a52-4d5e-4a34-9b47-2a8f6d1e0c11";
  const valid = { items: [{ productId: product, quantity: 1 }], shippingAddress: address, paymentToken: "tok_visa" };

  it.each([
    [{ ...valid, items: [] }, "items"],
    [{ ...valid, items: [{ productId: product, quantity: 0 }] }, "items[0].quantity"],
    [{ ...valid, items: [{ productId: "not-a-uuid", quantity: 1 }] }, "items[0].productId"],
    [{ ...valid, shippingAddress: { ...address, city: "" } }, "shippingAddress.city"],
    [{ ...valid, shippingAddress: undefined }, "shippingAddress"],
    [{ ...valid, paymentToken: "visa" }, "paymentToken"],
    [
      {
        ...valid,
        items: [
          { productId: product, quantity: 1 },
          { productId: product, quantity: 2 },
        ],
      },
      "items[1].productId",
    ],
  ])("rejects %o naming %s", async (request, field) => {
    const failure = await failureOf(stack.orders.placeOrder(request, customer().call));
    expect(failure.code).toBe(Code.InvalidArgument);
    expect(failure.message).toContain(`${field}:`);
  });

  it("rejects malformed ids, page tokens and idempotency keys naming the field", async () => {
    const { call } = customer();
    const id = await failureOf(stack.orders.getOrder({ orderId: "42" }, call));
    expect([id.code, id.message]).toEqual([Code.InvalidArgument, expect.stringContaining("orderId:")]);
    const token = await failureOf(stack.orders.listOrders({ pageToken: "garbage!" }, call));
    expect([token.code, token.message]).toEqual([Code.InvalidArgument, expect.stringContaining("pageToken:")]);
    const size = await failureOf(stack.orders.listOrders({ pageSize: 500 }, call));
    expect([size.code, size.message]).toEqual([Code.InvalidArgument, expect.stringContaining("pageSize:")]);
    const key = await failureOf(stack.orders.placeOrder(valid, { headers: { ...call.headers, "idempotency-key": "k".repeat(201) } }));
    expect([key.code, key.message]).toEqual([Code.InvalidArgument, expect.stringContaining("idempotency-key:")]);
  });
});
