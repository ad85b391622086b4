import { hostname } from "node:os";
import {
  type Attributes,
  propagation,
  ROOT_CONTEXT,
  type Span,
  type SpanContext,
  SpanKind,
  SpanStatusCode,
  TraceFlags,
  trace,
} from "@opentelemetry/api";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { OTLPTraceExporter as OtlpJsonExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { OTLPTraceExporter as OtlpProtobufExporter } from "@opentelemetry/exporter-trace-otlp-proto";
import { detectResources, envDetector, resourceFromAttributes } from "@opentelemetry/resources";
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  ConsoleSpanExporter,
  ParentBasedSampler,
  type Sampler,
  type SpanExporter,
  type SpanProcessor,
  TraceIdRatioBasedSampler,
  TracerProvider,
} from "@opentelemetry/sdk-trace";
import { ConfigError, env, loadConfig } from "./config.js";

export { SpanKind };

const samplerNames = [
  "always_on",
  "always_off",
  "traceidratio",
  "parentbased_always_on",
  "parentbased_always_off",
  "parentbased_traceidratio",
] as const;

/** The standard OpenTelemetry variables this runtime honours. */
const tracingSpec = {
  OTEL_TRACES_EXPORTER: env.list(["none"]),
  OTEL_EXPORTER_OTLP_PROTOCOL: env.oneOf(["http/protobuf", "http/json"], "http/protobuf"),
  OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: env.string(""),
  OTEL_TRACES_SAMPLER: env.string(""),
  OTEL_TRACES_SAMPLER_ARG: env.string(""),
  OTEL_BSP_SCHEDULE_DELAY: env.int(5_000, { min: 0 }),
  OTEL_BSP_EXPORT_TIMEOUT: env.int(30_000, { min: 1 }),
  OTEL_BSP_MAX_QUEUE_SIZE: env.int(2_048, { min: 1 }),
  OTEL_BSP_MAX_EXPORT_BATCH_SIZE: env.int(512, { min: 1 }),
};

export interface TracingSettings {
  exporters: ("otlp" | "console")[];
  protocol: "http/protobuf" | "http/json";
  sampler: Sampler;
  /** How the sampler was chosen, for the start-up log line. */
  samplerName: string;
  /** The batch span processor's `OTEL_BSP_*` settings: how long spans wait, how many are sent or kept at most. */
  batch: { scheduledDelayMillis: number; exportTimeoutMillis: number; maxQueueSize: number; maxExportBatchSize: number };
}

function samplerOf(name: (typeof samplerNames)[number], ratio: number): Sampler {
  switch (name) {
    case "always_on":
      return new AlwaysOnSampler();
    case "always_off":
      return new AlwaysOffSampler();
    case "traceidratio":
      return new TraceIdRatioBasedSampler(ratio);
    case "parentbased_always_on":
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
    case "parentbased_always_off":
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case "parentbased_traceidratio":
      return new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(ratio) });
  }
}

/**
 * Reads `OTEL_TRACES_EXPORTER` (`none`, `otlp`, `console`), `OTEL_EXPORTER_OTLP_PROTOCOL`
 * (`http/protobuf` or `http/json`), `OTEL_TRACES_SAMPLER`/`_ARG` and the batch processor's
 * `OTEL_BSP_*`, which this SDK does not read itself. Without an explicit sampler,
 * spans are sampled parent-based: every root when something receives them (an exporter, or
 * processors a test installs), none otherwise, so an unexported span costs only its ids.
 */
export function tracingSettings(source: NodeJS.ProcessEnv = process.env, hasProcessors = false): TracingSettings {
  const raw = loadConfig(tracingSpec, source);
  const problems: string[] = [];
  const exporters = raw.OTEL_TRACES_EXPORTER.filter((name) => name !== "none");
  for (const name of exporters) {
    if (name !== "otlp" && name !== "console") problems.push(`OTEL_TRACES_EXPORTER must list none, otlp or console, got "${name}"`);
  }
  const protocol = (raw.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL || raw.OTEL_EXPORTER_OTLP_PROTOCOL) as TracingSettings["protocol"];
  if (protocol !== "http/protobuf" && protocol !== "http/json") {
    problems.push(`OTEL_EXPORTER_OTLP_TRACES_PROTOCOL must be http/protobuf or http/json, got "${protocol}"`);
  }
  const receiving = exporters.length > 0 || hasProcessors;
  const samplerName = raw.OTEL_TRACES_SAMPLER || (receiving ? "parentbased_always_on" : "parentbased_always_off");
  if (!samplerNames.includes(samplerName as never))
    problems.push(`OTEL_TRACES_SAMPLER must be one of ${samplerNames.join(", ")}, got "${samplerName}"`);
  const ratio = raw.OTEL_TRACES_SAMPLER_ARG === "" ? 1 : Number(raw.OTEL_TRACES_SAMPLER_ARG);
  if (!(ratio >= 0 && ratio <= 1)) problems.push(`OTEL_TRACES_SAMPLER_ARG must be a ratio in [0, 1], got "${raw.OTEL_TRACES_SAMPLER_ARG}"`);
  if (raw.OTEL_BSP_MAX_EXPORT_BATCH_SIZE > raw.OTEL_BSP_MAX_QUEUE_SIZE) {
    problems.push(
      `OTEL_BSP_MAX_EXPORT_BATCH_SIZE (${raw.OTEL_BSP_MAX_EXPORT_BATCH_SIZE}) must not exceed OTEL_BSP_MAX_QUEUE_SIZE (${raw.OTEL_BSP_MAX_QUEUE_SIZE})`,
    );
  }
  if (problems.length > 0) throw new ConfigError(problems);
  const name = samplerName as (typeof samplerNames)[number];
  return {
    exporters: exporters as TracingSettings["exporters"],
    protocol,
    sampler: samplerOf(name, ratio),
    samplerName: name.endsWith("traceidratio") ? `${name} ${ratio}` : name,
    batch: {
      scheduledDelayMillis: raw.OTEL_BSP_SCHEDULE_DELAY,
      exportTimeoutMillis: raw.OTEL_BSP_EXPORT_TIMEOUT,
      maxQueueSize: raw.OTEL_BSP_MAX_QUEUE_SIZE,
      maxExportBatchSize: raw.OTEL_BSP_MAX_EXPORT_BATCH_SIZE,
    },
  };
}

function exporterOf(name: "otlp" | "console", protocol: TracingSettings["protocol"]): SpanExporter {
  if (name === "console") return new ConsoleSpanExporter();
  // Endpoint, headers and timeout come from the exporter's own OTEL_EXPORTER_OTLP_* variables.
  return protocol === "http/json" ? new OtlpJsonExporter() : new OtlpProtobufExporter();
}

let provider: TracerProvider | undefined;
const tracer = trace.getTracer("shop");

/**
 * Installs this process's tracer provider (OTLP or console export as the standard variables
 * say, batched) and the W3C trace-context propagator. `processors` replace the exporters (tests
 * read spans in memory). The resource is `service.name` (`OTEL_SERVICE_NAME`, else `serviceName`),
 * `service.instance.id` and `OTEL_RESOURCE_ATTRIBUTES`.
 */
export function initTracing(serviceName: string, processors?: SpanProcessor[], source: NodeJS.ProcessEnv = process.env): TracerProvider {
  if (provider) return provider;
  const settings = tracingSettings(source, processors !== undefined);
  const resource = resourceFromAttributes({
    "service.name": serviceName,
    "service.instance.id": `${hostname()}:${process.pid}`,
  }).merge(detectResources({ detectors: [envDetector] }));
  provider = new TracerProvider({
    resource,
    sampler: settings.sampler,
    spanProcessors:
      processors ??
      settings.exporters.map((name) => new BatchSpanProcessor({ exporter: exporterOf(name, settings.protocol), ...settings.batch })),
  });
  trace.setGlobalTracerProvider(provider);
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  return provider;
}

/** Sends the spans still buffered and stops exporting; part of a graceful shutdown. */
export async function shutdownTracing(): Promise<void> {
  await provider?.shutdown();
}

export interface TraceCarrier {
  traceparent?: string;
  tracestate?: string;
}

const traceparentPattern = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** The span context a W3C `traceparent` header names, if it is well-formed. */
export function parseTraceparent(traceparent: string | undefined): SpanContext | undefined {
  if (traceparent === undefined) return undefined;
  const match = traceparentPattern.exec(traceparent);
  if (!match || /^0+$/.test(match[1]!) || /^0+$/.test(match[2]!)) return undefined;
  return { traceId: match[1]!, spanId: match[2]!, traceFlags: Number.parseInt(match[3]!, 16) & TraceFlags.SAMPLED, isRemote: true };
}

const flagsText = (flags: number) => ((flags & TraceFlags.SAMPLED) === TraceFlags.SAMPLED ? "01" : "00");

/** One hop's span, and the trace context to hand to the next hop. */
export class ActiveSpan {
  /** This span as the parent of the next hop; the parent's own context when nothing traces. */
  readonly carrier: TraceCarrier;

  constructor(
    readonly span: Span,
    parent: TraceCarrier,
  ) {
    const context = span.spanContext();
    this.carrier =
      context.traceId === "00000000000000000000000000000000"
        ? parent
        : { traceparent: `00-${context.traceId}-${context.spanId}-${flagsText(context.traceFlags)}`, tracestate: parent.tracestate };
  }

  /** Whether the span is sampled: attributes worth computing only then. */
  get recording(): boolean {
    return this.span.isRecording();
  }

  end(error?: unknown): void {
    if (error !== undefined && this.span.isRecording()) {
      this.span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
    }
    this.span.end();
  }
}

/**
 * Starts a span whose parent comes from `parent` (headers of the previous hop), if any, linked to
 * the contexts of `linked` (other work it does at once, such as messages of other traces in one
 * batch). Spans the sampler drops cost a span id and no attributes; `attributes` should be a
 * constant per call site, not built per call.
 */
export function startSpan(
  name: string,
  kind: SpanKind,
  parent: TraceCarrier,
  attributes?: Attributes,
  linked?: readonly TraceCarrier[],
): ActiveSpan {
  const parentContext = parseTraceparent(parent.traceparent);
  const context = parentContext ? trace.setSpanContext(ROOT_CONTEXT, parentContext) : ROOT_CONTEXT;
  const links = linked?.flatMap((carrier) => {
    const spanContext = parseTraceparent(carrier.traceparent);
    return spanContext ? [{ context: spanContext }] : [];
  });
  // Attributes are set once the span is known to record: the SDK copies what it is given before
  // sampling, and none of the samplers this runtime offers looks at attributes.
  const span = tracer.startSpan(name, { kind, links }, context);
  if (attributes !== undefined && span.isRecording()) span.setAttributes(attributes);
  return new ActiveSpan(span, parent);
}
