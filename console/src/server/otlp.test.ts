import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { JsonTraceSerializer, ProtobufTraceSerializer } from "@opentelemetry/otlp-transformer";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from "@opentelemetry/sdk-trace";
import { describe, expect, it } from "vitest";
import { decodeJsonTraces, decodeProtobufTraces } from "./otlp.js";

/** Two spans from the SDK itself: a server span with every kind of attribute, and its child with an event, a link and an error. */
function sdkSpans() {
  const exporter = new InMemorySpanExporter();
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ "service.name": "orders", "service.instance.id": "host:42" }),
    spanProcessors: [new SimpleSpanProcessor({ exporter })],
  });
  const tracer = provider.getTracer("test");
  const parent = tracer.startSpan("shop.orders.v1.OrderService/PlaceOrder", {
    kind: SpanKind.SERVER,
    attributes: { "rpc.system": "grpc", "saga.attempt": 2, ratio: 0.5, sampled: true, roles: ["admin", "customer"] },
  });
  const child = tracer.startSpan(
    "publish shop.orders.order_placed",
    {
      kind: SpanKind.PRODUCER,
      links: [{ context: { traceId: "0af7651916cd43dd8448eb211c80319c", spanId: "b7ad6b7169203331", traceFlags: 1 } }],
    },
    trace.setSpan(ROOT_CONTEXT, parent),
  );
  child.addEvent("retry", { attempt: 1 });
  child.setStatus({ code: SpanStatusCode.ERROR, message: "nats timeout" });
  child.end();
  parent.end();
  return exporter.getFinishedSpans();
}

describe("OTLP trace requests", () => {
  const spans = sdkSpans();
  const [child, parent] = spans;
  const expected = [
    {
      traceId: child!.spanContext().traceId,
      spanId: child!.spanContext().spanId,
      parentSpanId: parent!.spanContext().spanId,
      name: "publish shop.orders.order_placed",
      kind: "PRODUCER",
      attributes: {},
      events: [{ name: "retry", attributes: { attempt: 1 } }],
      links: [{ traceId: "0af7651916cd43dd8448eb211c80319c", spanId: "b7ad6b7169203331", attributes: {} }],
      status: { code: "ERROR", message: "nats timeout" },
      service: "orders",
      resource: { "service.name": "orders", "service.instance.id": "host:42" },
    },
    {
      traceId: parent!.spanContext().traceId,
      spanId: parent!.spanContext().spanId,
      parentSpanId: "",
      name: "shop.orders.v1.OrderService/PlaceOrder",
      kind: "SERVER",
      attributes: { "rpc.system": "grpc", "saga.attempt": 2, ratio: 0.5, sampled: true, roles: ["admin", "customer"] },
      status: { code: "UNSET", message: "" },
      service: "orders",
    },
  ];

  it("decodes what the SDK's http/protobuf exporter sends", () => {
    const decoded = decodeProtobufTraces(ProtobufTraceSerializer.serializeRequest(spans)!);
    expect(decoded).toMatchObject(expected);
    expect(decoded[1]!.start).toBeCloseTo(parent!.startTime[0] * 1000 + parent!.startTime[1] / 1e6, 3);
    expect(decoded[1]!.end).toBeGreaterThanOrEqual(decoded[1]!.start);
  });

  it("decodes what the SDK's http/json exporter sends to the same spans", () => {
    const json = decodeJsonTraces(new TextDecoder().decode(JsonTraceSerializer.serializeRequest(spans)!));
    expect(json).toMatchObject(expected);
    expect(json).toEqual(decodeProtobufTraces(ProtobufTraceSerializer.serializeRequest(spans)!));
  });

  it("skips fields it does not read", () => {
    // Field 99 (a length-delimited value) before the resource spans: a newer sender's extension.
    const extra = Uint8Array.from([0x9a, 0x06, 0x02, 0x68, 0x69]);
    const body = ProtobufTraceSerializer.serializeRequest(spans)!;
    expect(decodeProtobufTraces(Uint8Array.from([...extra, ...body]))).toMatchObject(expected);
  });
});
