import { ROOT_CONTEXT, SpanKind, TraceFlags } from "@opentelemetry/api";
import { SamplingDecision } from "@opentelemetry/sdk-trace";
import { describe, expect, it } from "vitest";
import { ConfigError } from "./config.js";
import { parseTraceparent, tracingSettings } from "./tracing.js";

const decide = (settings: ReturnType<typeof tracingSettings>) =>
  settings.sampler.shouldSample(ROOT_CONTEXT, "4bf92f3577b34da6a3ce929d0e0e4736", "span", SpanKind.SERVER, {}, []).decision;

describe("tracing settings from the standard OpenTelemetry variables", () => {
  it("exports nothing and samples no root span by default", () => {
    const settings = tracingSettings({});
    expect(settings.exporters).toEqual([]);
    expect(settings.samplerName).toBe("parentbased_always_off");
    expect(decide(settings)).toBe(SamplingDecision.NOT_RECORD);
  });

  it("samples every root span once something receives them", () => {
    expect(tracingSettings({ OTEL_TRACES_EXPORTER: "otlp" }).samplerName).toBe("parentbased_always_on");
    expect(decide(tracingSettings({ OTEL_TRACES_EXPORTER: "otlp" }))).toBe(SamplingDecision.RECORD_AND_SAMPLED);
    expect(tracingSettings({}, true).samplerName).toBe("parentbased_always_on");
  });

  it("takes the exporters, protocol and a ratio sampler", () => {
    const settings = tracingSettings({
      OTEL_TRACES_EXPORTER: "otlp,console",
      OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
      OTEL_TRACES_SAMPLER: "parentbased_traceidratio",
      OTEL_TRACES_SAMPLER_ARG: "0.25",
    });
    expect(settings).toMatchObject({ exporters: ["otlp", "console"], protocol: "http/json", samplerName: "parentbased_traceidratio 0.25" });
    expect(tracingSettings({ OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: "http/json" }).protocol).toBe("http/json");
  });

  it("batches spans as OTEL_BSP_* say", () => {
    expect(tracingSettings({}).batch).toEqual({
      scheduledDelayMillis: 5_000,
      exportTimeoutMillis: 30_000,
      maxQueueSize: 2_048,
      maxExportBatchSize: 512,
    });
    expect(tracingSettings({ OTEL_BSP_SCHEDULE_DELAY: "500", OTEL_BSP_MAX_EXPORT_BATCH_SIZE: "64" }).batch).toMatchObject({
      scheduledDelayMillis: 500,
      maxExportBatchSize: 64,
    });
    expect(() => tracingSettings({ OTEL_BSP_MAX_QUEUE_SIZE: "10" })).toThrow(/OTEL_BSP_MAX_EXPORT_BATCH_SIZE \(512\) must not exceed/);
  });

  it("refuses unknown values, naming each variable", () => {
    const problems = (() => {
      try {
        tracingSettings({ OTEL_TRACES_EXPORTER: "jaeger", OTEL_TRACES_SAMPLER: "sometimes", OTEL_TRACES_SAMPLER_ARG: "2" });
      } catch (err) {
        expect(err).toBeInstanceOf(ConfigError);
        return (err as ConfigError).problems.join("\n");
      }
      return "";
    })();
    expect(problems).toContain('OTEL_TRACES_EXPORTER must list none, otlp or console, got "jaeger"');
    expect(problems).toContain("OTEL_TRACES_SAMPLER must be one of");
    expect(problems).toContain('OTEL_TRACES_SAMPLER_ARG must be a ratio in [0, 1], got "2"');
    expect(() => tracingSettings({ OTEL_EXPORTER_OTLP_PROTOCOL: "grpc" })).toThrow(/OTEL_EXPORTER_OTLP_PROTOCOL must be one of/);
  });
});

describe("traceparent", () => {
  it("reads a well-formed header and refuses the rest", () => {
    expect(parseTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")).toEqual({
      traceId: "4bf92f3577b34da6a3ce929d0e0e4736",
      spanId: "00f067aa0ba902b7",
      traceFlags: TraceFlags.SAMPLED,
      isRemote: true,
    });
    for (const bad of [
      undefined,
      "",
      "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
      "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
    ]) {
      expect(parseTraceparent(bad)).toBeUndefined();
    }
  });
});
