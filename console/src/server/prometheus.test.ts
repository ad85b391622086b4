import { describe, expect, it } from "vitest";
import { histogramQuantile, parsePrometheusText } from "./prometheus.js";

describe("Prometheus text", () => {
  it("reads samples with their labels, escapes and infinities, skipping comments", () => {
    const text = [
      "# HELP rpc_server_requests_total RPCs handled.",
      "# TYPE rpc_server_requests_total counter",
      'rpc_server_requests_total{method="shop.orders.v1.OrderService/PlaceOrder",code="ok"} 12',
      'gateway_http_request_duration_seconds_bucket{method="GET",route="GET /v1/products/{productId}",le="+Inf"} 7',
      'odd{note="a \\"quoted\\" \\\\ value"} 1.5e-3',
      "process_resident_memory_bytes 1048576",
      "",
    ].join("\n");
    expect(parsePrometheusText(text)).toEqual([
      { name: "rpc_server_requests_total", labels: { method: "shop.orders.v1.OrderService/PlaceOrder", code: "ok" }, value: 12 },
      {
        name: "gateway_http_request_duration_seconds_bucket",
        labels: { method: "GET", route: "GET /v1/products/{productId}", le: "+Inf" },
        value: 7,
      },
      { name: "odd", labels: { note: 'a "quoted" \\ value' }, value: 0.0015 },
      { name: "process_resident_memory_bytes", labels: {}, value: 1048576 },
    ]);
  });

  it("takes quantiles of a histogram as PromQL does, interpolating inside a bucket", () => {
    const buckets = [
      { le: 0.01, count: 50 },
      { le: 0.1, count: 90 },
      { le: 1, count: 100 },
      { le: Number.POSITIVE_INFINITY, count: 100 },
    ];
    expect(histogramQuantile(0.5, buckets)).toBeCloseTo(0.01, 6);
    expect(histogramQuantile(0.7, buckets)).toBeCloseTo(0.055, 6);
    expect(histogramQuantile(0.95, buckets)).toBeCloseTo(0.55, 6);
    expect(histogramQuantile(0.5, [{ le: 1, count: 0 }])).toBeUndefined();
    expect(
      histogramQuantile(0.99, [
        { le: 0.5, count: 1 },
        { le: Number.POSITIVE_INFINITY, count: 10 },
      ]),
    ).toBe(0.5);
  });
});
