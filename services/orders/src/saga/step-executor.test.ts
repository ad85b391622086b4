import { Code, ConnectError, createClient, createRouterTransport, type ServiceImpl } from "@connectrpc/connect";
import { CatalogService } from "@shop/contracts/shop/catalog/v1/catalog_pb.js";
import { InventoryService } from "@shop/contracts/shop/inventory/v1/inventory_pb.js";
import { PaymentService, PaymentStatus } from "@shop/contracts/shop/payments/v1/payments_pb.js";
import { ShippingService } from "@shop/contracts/shop/shipping/v1/shipping_pb.js";
import { describe, expect, it } from "vitest";
import type { Order } from "../domain/order.js";
import type { Downstream } from "../downstream/clients.js";
import { DownstreamStepExecutor } from "./step-executor.js";

const order: Order = {
  id: "0b9d6c1e-8a51-4d7e-9a0e-3f1c2b4d5e6f",
  userId: "7c3e2a10-5b4d-4e8f-9a1b-2c3d4e5f6a7b",
  status: "PENDING",
  items: [{ productId: "p-1", quantity: 2, name: "", unitPrice: null, lineTotal: null }],
  total: { currency: "USD", amountMinor: 1000n },
  cancellationReason: "",
  shippingAddress: { recipient: "Ada", line1: "1 Main St", line2: "", city: "Springfield", postalCode: "12345", countryCode: "US" },
  paymentToken: "tok_visa",
  createTime: new Date(),
  updateTime: new Date(),
};

interface Fakes {
  catalog?: Partial<ServiceImpl<typeof CatalogService>>;
  inventory?: Partial<ServiceImpl<typeof InventoryService>>;
  payments?: Partial<ServiceImpl<typeof PaymentService>>;
  shipping?: Partial<ServiceImpl<typeof ShippingService>>;
}

/** Downstream services answering in memory, so each outcome class can be produced on demand. */
function executorWith(fakes: Fakes, attempts = 4) {
  const transport = createRouterTransport((router) => {
    router.service(CatalogService, fakes.catalog ?? {});
    router.service(InventoryService, fakes.inventory ?? {});
    router.service(PaymentService, fakes.payments ?? {});
    router.service(ShippingService, fakes.shipping ?? {});
  });
  const downstream: Downstream = {
    catalog: createClient(CatalogService, transport),
    inventory: createClient(InventoryService, transport),
    payments: createClient(PaymentService, transport),
    shipping: createClient(ShippingService, transport),
    close: () => undefined,
  };
  return new DownstreamStepExecutor(downstream, { attempts, backoffBaseMs: 1, backoffMaxMs: 5 });
}

const signal = () => new AbortController().signal;

describe("saga step executor", () => {
  it("retries transient errors within the budget and succeeds (tok_flaky)", async () => {
    let calls = 0;
    const executor = executorWith({
      payments: {
        authorizePayment() {
          calls += 1;
          if (calls <= 2) throw new ConnectError("provider unavailable", Code.Unavailable);
          return { payment: { status: PaymentStatus.AUTHORIZED } };
        },
      },
    });
    expect(await executor.execute("AUTHORIZE", order, signal())).toEqual({ kind: "succeeded" });
    expect(calls).toBe(3);
  });

  it("gives up with `exhausted` after exactly the budgeted number of calls", async () => {
    let calls = 0;
    const executor = executorWith(
      {
        shipping: {
          createShipment() {
            calls += 1;
            throw new ConnectError("overloaded", Code.ResourceExhausted);
          },
        },
      },
      6,
    );
    expect(await executor.execute("SHIP", order, signal())).toEqual({ kind: "exhausted", detail: "ResourceExhausted: overloaded" });
    expect(calls).toBe(6);
  });

  it("does not retry permanent errors", async () => {
    let calls = 0;
    const executor = executorWith({
      payments: {
        capturePayment() {
          calls += 1;
          throw new ConnectError("payment for order is VOIDED", Code.FailedPrecondition);
        },
      },
    });
    expect(await executor.execute("CAPTURE", order, signal())).toEqual({
      kind: "failed",
      detail: "FailedPrecondition: payment for order is VOIDED",
    });
    expect(calls).toBe(1);
  });

  it("turns business answers into rejections", async () => {
    const executor = executorWith({
      catalog: {
        batchGetProducts() {
          throw new ConnectError("product p-1 not found", Code.NotFound);
        },
      },
      payments: { authorizePayment: () => ({ payment: { status: PaymentStatus.DECLINED, declineReason: "CARD_DECLINED" } }) },
      inventory: {
        reserveStock() {
          throw new ConnectError("only 1 of p-1 available", Code.FailedPrecondition);
        },
      },
      shipping: {
        cancelShipment() {
          throw new ConnectError("shipment is DISPATCHED", Code.FailedPrecondition);
        },
      },
    });
    expect(await executor.execute("PRICE", order, signal())).toMatchObject({ kind: "rejected", reason: "PRODUCT_UNAVAILABLE" });
    expect(await executor.execute("AUTHORIZE", order, signal())).toEqual({
      kind: "rejected",
      reason: "PAYMENT_DECLINED",
      detail: "CARD_DECLINED",
    });
    expect(await executor.execute("RESERVE", order, signal())).toMatchObject({ kind: "rejected", reason: "INSUFFICIENT_STOCK" });
    expect(await executor.execute("CANCEL_SHIPMENT", order, signal())).toMatchObject({ kind: "rejected", reason: "SHIPMENT_DISPATCHED" });
  });

  it("prices from the catalog's answer", async () => {
    const executor = executorWith({
      catalog: { batchGetProducts: () => ({ products: [{ id: "p-1", name: "Mug", price: { currencyCode: "EUR", amountMinor: 450n } }] }) },
    });
    expect(await executor.execute("PRICE", order, signal())).toEqual({
      kind: "succeeded",
      priced: {
        lines: [
          {
            productId: "p-1",
            quantity: 2,
            name: "Mug",
            unitPrice: { currency: "EUR", amountMinor: 450n },
            lineTotal: { currency: "EUR", amountMinor: 900n },
          },
        ],
        total: { currency: "EUR", amountMinor: 900n },
      },
    });
  });

  it("passes the order's data to the downstream call", async () => {
    const seen: unknown[] = [];
    const executor = executorWith({
      payments: {
        authorizePayment(req) {
          seen.push({ orderId: req.orderId, userId: req.userId, amount: req.amount?.amountMinor, token: req.paymentToken });
          return { payment: { status: PaymentStatus.AUTHORIZED } };
        },
      },
      inventory: {
        reserveStock(req) {
          seen.push(req.items.map((i) => [i.productId, i.quantity]));
          return {};
        },
      },
    });
    await executor.execute("AUTHORIZE", order, signal());
    await executor.execute("RESERVE", order, signal());
    expect(seen).toEqual([{ orderId: order.id, userId: order.userId, amount: 1000n, token: "tok_visa" }, [["p-1", 2]]]);
  });

  it("stops when aborted and reports no outcome", async () => {
    const aborted = new AbortController();
    const executor = executorWith({
      inventory: {
        commitStock() {
          aborted.abort(new Error("runner stopping"));
          throw new ConnectError("inventory unavailable", Code.Unavailable);
        },
      },
    });
    await expect(executor.execute("COMMIT", order, aborted.signal)).rejects.toThrow("runner stopping");
  });
});
