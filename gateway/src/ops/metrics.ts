import { latencyBuckets, metricsRegistry } from "@shop/runtime";
import { Counter, Gauge, Histogram } from "prom-client";

/** The gateway's own series, beside the process and RPC client metrics of the shared registry. */
export const gatewayMetrics = {
  requests: new Counter({
    name: "gateway_http_requests_total",
    help: "Requests answered by the gateway, by HTTP method, route and status.",
    labelNames: ["method", "route", "status"] as const,
    registers: [metricsRegistry],
  }),
  duration: new Histogram({
    name: "gateway_http_request_duration_seconds",
    help: "Time from receiving a request to finishing its response.",
    labelNames: ["method", "route"] as const,
    buckets: latencyBuckets,
    registers: [metricsRegistry],
  }),
  upstreamErrors: new Counter({
    name: "gateway_upstream_errors_total",
    help: "Upstream calls that failed, by upstream and gRPC code.",
    labelNames: ["upstream", "code"] as const,
    registers: [metricsRegistry],
  }),
  contractCompatible: new Gauge({
    name: "gateway_upstream_contract_compatible",
    help: "1 when the upstream's served descriptors are compatible with the gateway's, else 0.",
    labelNames: ["upstream"] as const,
    registers: [metricsRegistry],
  }),
};
