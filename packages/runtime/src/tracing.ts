import { type Attributes, propagation, ROOT_CONTEXT, type Span, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { BatchSpanProcessor, ConsoleSpanExporter, type SpanProcessor, TracerProvider } from "@opentelemetry/sdk-trace";

export { SpanKind };

let provider: TracerProvider | undefined;

/**
 * Installs the OpenTelemetry tracer provider and the W3C trace-context propagator for this
 * process. `OTEL_TRACES_EXPORTER=console` prints finished spans; the default records spans
 * (so every hop gets its own span id in `traceparent`) without exporting them.
 */
export function initTracing(serviceName: string, processors?: SpanProcessor[]): TracerProvider {
  if (provider) return provider;
  const exporter = process.env.OTEL_TRACES_EXPORTER;
  provider = new TracerProvider({
    spanProcessors: processors ?? (exporter === "console" ? [new BatchSpanProcessor({ exporter: new ConsoleSpanExporter() })] : []),
  });
  trace.setGlobalTracerProvider(provider);
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  process.env.OTEL_SERVICE_NAME ??= serviceName;
  return provider;
}

export interface TraceCarrier {
  traceparent?: string;
  tracestate?: string;
}

export interface ActiveSpan {
  span: Span;
  /** The trace context to hand to the next hop: this span as parent. */
  carrier: TraceCarrier;
  end(error?: unknown): void;
}

/** Starts a span whose parent comes from `parent` (headers of the previous hop), if any. */
export function startSpan(name: string, kind: SpanKind, parent: TraceCarrier, attributes?: Attributes): ActiveSpan {
  const parentContext = propagation.extract(ROOT_CONTEXT, { ...parent });
  const span = trace.getTracer("shop").startSpan(name, { kind, attributes }, parentContext);
  const carrier: Record<string, string> = {};
  propagation.inject(trace.setSpan(parentContext, span), carrier);
  return {
    span,
    carrier: { traceparent: carrier.traceparent ?? parent.traceparent, tracestate: carrier.tracestate ?? parent.tracestate },
    end(error?: unknown) {
      if (error !== undefined)
        span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
      span.end();
    },
  };
}
