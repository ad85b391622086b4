import { randomBytes, randomUUID } from "node:crypto";
import { SpanKind } from "@opentelemetry/api";
import { InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from "@opentelemetry/sdk-trace";
import { OrderStatus } from "@shop/contracts/shop/orders/v1/orders_pb.js";
import { initTracing } from "@shop/runtime";
import { callerHeaders, waitFor } from "@shop/runtime/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { admin, type CheckoutStack, startCheckoutStack } from "./testing/checkout-stack.js";

const spans = new InMemorySpanExporter();
let stack: CheckoutStack;
let productId: string;

beforeAll(async () => {
  initTracing("orders-test", [new SimpleSpanProcessor({ exporter: spans })]);
  stack = await startCheckoutStack();
  productId = await stack.addProduct({ priceMinor: 1500n, stock: 100, name: "Traced Mug" });
});

afterAll(async () => {
  await stack?.stop();
});

const spanId = (span: ReadableSpan) => span.spanContext().spanId;
const parentId = (span: ReadableSpan) => span.parentSpanContext?.spanId;

/** Places an order in a trace of its own and waits until its saga ended and its last step's span did. */
async function tracedCheckout(paymentToken: string): Promise<{ orderId: string; status: OrderStatus; trace: ReadableSpan[] }> {
  const traceId = randomBytes(16).toString("hex");
  const headers = { ...callerHeaders(randomUUID()), traceparent: `00-${traceId}-${randomBytes(8).toString("hex")}-01` };
  const { order } = await stack.orders.placeOrder(
    {
      items: [{ productId, quantity: 1 }],
      shippingAddress: { recipient: "Ada", line1: "1 Row", line2: "", city: "London", postalCode: "N1 7AA", countryCode: "GB" },
      paymentToken,
    },
    { headers },
  );
  const final = await waitFor(
    async () => (await stack.orders.getOrder({ orderId: order!.id }, admin)).order!,
    (current) => current.status !== OrderStatus.PENDING,
    { timeoutMs: 20_000, what: `order ${order!.id} to end` },
  );
  const trace = await waitFor(
    () => spans.getFinishedSpans().filter((span) => span.spanContext().traceId === traceId),
    (list) => list.some((span) => span.attributes["saga.status"] === "CONFIRMED" || span.attributes["saga.status"] === "CANCELLED"),
    { what: "the span of the saga's last step" },
  );
  return { orderId: order!.id, status: final.status, trace };
}

const sagaSpans = (trace: ReadableSpan[]) =>
  trace.filter((span) => span.name.startsWith("saga ")).sort((a, b) => a.startTime[0] - b.startTime[0] || a.startTime[1] - b.startTime[1]);

describe("saga steps as spans", () => {
  it("records each step, its outcome and the compensation of a declined payment, under the call that placed the order", async () => {
    const { orderId, status, trace } = await tracedCheckout("tok_decline");
    expect(status).toBe(OrderStatus.CANCELLED);
    const placeOrder = trace.find((span) => span.kind === SpanKind.SERVER && span.name === "shop.orders.v1.OrderService/PlaceOrder")!;
    expect(placeOrder).toBeDefined();

    const steps = sagaSpans(trace);
    expect(steps.map((span) => [span.name, span.attributes["saga.outcome"], span.attributes["saga.status"]])).toEqual([
      ["saga PRICE", "succeeded", "FORWARD"],
      ["saga AUTHORIZE", "rejected", "COMPENSATING"],
      ["saga VOID_PAYMENT", "succeeded", "CANCELLED"],
    ]);
    for (const step of steps) {
      expect(parentId(step)).toBe(spanId(placeOrder));
      expect(step.kind).toBe(SpanKind.INTERNAL);
      expect(step.attributes).toMatchObject({ "shop.order.id": orderId, "saga.attempt": 1 });
    }
    expect(steps[1]!.attributes).toMatchObject({
      "saga.step": "AUTHORIZE",
      "saga.phase": "FORWARD",
      "saga.outcome.reason": "PAYMENT_DECLINED",
    });
    expect(steps[2]!.attributes).toMatchObject({ "saga.phase": "COMPENSATING", "saga.reason": "PAYMENT_DECLINED" });

    // What a step calls and the events it records are its children.
    const authorize = trace.find(
      (span) => span.kind === SpanKind.CLIENT && span.name === "shop.payments.v1.PaymentService/AuthorizePayment",
    )!;
    expect(parentId(authorize)).toBe(spanId(steps[1]!));
    const cancelled = trace.find((span) => span.kind === SpanKind.PRODUCER && span.name === "create shop.orders.order_cancelled")!;
    expect(parentId(cancelled)).toBe(spanId(steps[2]!));
  });

  it("keeps a step's retried calls inside its span, and marks the step that confirms the order", async () => {
    const { status, trace } = await tracedCheckout("tok_flaky");
    expect(status).toBe(OrderStatus.CONFIRMED);
    const steps = sagaSpans(trace);
    expect(steps.map((span) => span.name)).toEqual(
      ["PRICE", "AUTHORIZE", "RESERVE", "SHIP", "CAPTURE", "COMMIT"].map((step) => `saga ${step}`),
    );
    expect(steps.at(-1)!.attributes["saga.status"]).toBe("CONFIRMED");

    const authorizeCalls = trace.filter((span) => span.kind === SpanKind.CLIENT && parentId(span) === spanId(steps[1]!));
    expect(authorizeCalls.map((span) => span.status.code)).toEqual([2, 2, 0]);
    expect(steps[1]!.attributes["saga.outcome"]).toBe("succeeded");
  });
});
