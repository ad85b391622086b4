import { describe, expect, it } from "vitest";
import type { ReceivedSpan } from "./otlp.js";
import { TraceStore } from "./trace-store.js";

const trace = (n: number) => n.toString(16).padStart(32, "a");
let nextSpan = 1;

function span(traceId: string, init: Partial<ReceivedSpan> & { name: string }): ReceivedSpan {
  const spanId = (nextSpan++).toString(16).padStart(16, "0");
  return {
    traceId,
    spanId,
    parentSpanId: "",
    kind: "INTERNAL",
    start: 1_000,
    end: 1_010,
    attributes: {},
    events: [],
    links: [],
    status: { code: "UNSET", message: "" },
    service: "orders",
    resource: { "service.name": "orders" },
    ...init,
  };
}

describe("the console's trace store", () => {
  it("summarizes a trace from its root, and finds it by trace id, order id or request id", () => {
    const store = new TraceStore();
    const root = span(trace(1), {
      name: "POST /v1/orders",
      service: "gateway",
      kind: "SERVER",
      start: 1_000,
      end: 1_200,
      attributes: { "http.request.header.x-request-id": ["req-1"] },
    });
    const child = span(trace(1), {
      name: "saga PRICE",
      parentSpanId: root.spanId,
      start: 1_100,
      end: 1_400,
      attributes: { "shop.order.id": "order-1" },
      status: { code: "ERROR", message: "boom" },
    });
    store.add([child]);
    store.add([root]);

    const [summary] = store.search();
    expect(summary).toMatchObject({
      traceId: trace(1),
      name: "POST /v1/orders",
      rootService: "gateway",
      spanCount: 2,
      errorCount: 1,
      start: 1_000,
      durationMs: 400,
    });
    expect(summary!.services.sort()).toEqual(["gateway", "orders"]);
    for (const query of [trace(1), "order-1", "req-1"]) expect(store.search(query).map((s) => s.traceId)).toEqual([trace(1)]);
    expect(store.search("order-2")).toEqual([]);
    expect(store.trace(trace(1))!.spans.map((s) => s.name)).toEqual(["POST /v1/orders", "saga PRICE"]);
  });

  it("shows a batch span in the traces it links to, and keeps only the newest traces", () => {
    const store = new TraceStore({ traces: 2, spansPerTrace: 10 });
    store.add([span(trace(2), { name: "publish a" })]);
    store.add([span(trace(3), { name: "process batch", links: [{ traceId: trace(2), spanId: "0000000000000001", attributes: {} }] })]);
    expect(store.trace(trace(2))!.linked.map((s) => s.name)).toEqual(["process batch"]);

    store.add([span(trace(4), { name: "later", attributes: { "shop.order.id": "order-4" } })]);
    expect(
      store
        .search()
        .map((s) => s.traceId)
        .sort(),
    ).toEqual([trace(3), trace(4)]);
    expect(store.trace(trace(2))).toBeUndefined();
  });

  it("reads a saga's timeline from its steps' spans: attempts, outcomes, calls, backoff and the final status", () => {
    const store = new TraceStore();
    const t = trace(5);
    const step = (name: string, start: number, attributes: ReceivedSpan["attributes"]) =>
      span(t, {
        name: `saga ${name}`,
        start,
        end: start + 50,
        attributes: { "shop.order.id": "order-5", "saga.step": name, ...attributes },
      });
    const authorize = step("AUTHORIZE", 100, {
      "saga.attempt": 1,
      "saga.outcome": "rejected",
      "saga.outcome.reason": "PAYMENT_DECLINED",
      "saga.status": "COMPENSATING",
    });
    const spans = [
      step("PRICE", 0, { "saga.attempt": 1, "saga.outcome": "succeeded", "saga.status": "FORWARD" }),
      authorize,
      span(t, {
        name: "shop.payments.v1.PaymentService/AuthorizePayment",
        kind: "CLIENT",
        parentSpanId: authorize.spanId,
        start: 110,
        end: 120,
        status: { code: "ERROR", message: "unavailable" },
      }),
      span(t, {
        name: "shop.payments.v1.PaymentService/AuthorizePayment",
        kind: "CLIENT",
        parentSpanId: authorize.spanId,
        start: 130,
        end: 140,
      }),
      step("VOID_PAYMENT", 200, {
        "saga.attempt": 1,
        "saga.outcome": "failed",
        "saga.outcome.detail": "Unavailable",
        "saga.retry.delay_ms": 80,
      }),
      step("VOID_PAYMENT", 330, {
        "saga.attempt": 2,
        "saga.outcome": "succeeded",
        "saga.status": "CANCELLED",
        "saga.reason": "PAYMENT_DECLINED",
      }),
    ];
    store.add(spans);

    const [saga] = store.sagas();
    expect(saga).toMatchObject({
      orderId: "order-5",
      traceId: t,
      status: "CANCELLED",
      reason: "PAYMENT_DECLINED",
      start: 0,
      durationMs: 380,
    });
    expect(saga!.steps.map((s) => [s.step, s.attempt, s.outcome, s.retryDelayMs])).toEqual([
      ["PRICE", 1, "succeeded", undefined],
      ["AUTHORIZE", 1, "rejected", undefined],
      ["VOID_PAYMENT", 1, "failed", 80],
      ["VOID_PAYMENT", 2, "succeeded", undefined],
    ]);
    expect(saga!.steps[1]!.calls.map((call) => call.error)).toEqual([true, false]);
    expect(saga!.steps[1]!.reason).toBe("PAYMENT_DECLINED");
  });
});
