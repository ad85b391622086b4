import http from "node:http";
import { Code } from "@connectrpc/connect";
import { Counter, collectDefaultMetrics, Histogram, Registry } from "prom-client";

/** Process-wide Prometheus registry: default process metrics plus the RPC metrics below. */
export const metricsRegistry = new Registry();
collectDefaultMetrics({ register: metricsRegistry });

const latencyBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

const rpcMetrics = {
  serverRequests: new Counter({
    name: "rpc_server_requests_total",
    help: "RPCs handled, by method and result code.",
    labelNames: ["method", "code"] as const,
    registers: [metricsRegistry],
  }),
  serverDuration: new Histogram({
    name: "rpc_server_duration_seconds",
    help: "Time spent handling RPCs.",
    labelNames: ["method"] as const,
    buckets: latencyBuckets,
    registers: [metricsRegistry],
  }),
  clientRequests: new Counter({
    name: "rpc_client_requests_total",
    help: "Outgoing RPCs, by method and result code.",
    labelNames: ["method", "code"] as const,
    registers: [metricsRegistry],
  }),
  clientDuration: new Histogram({
    name: "rpc_client_duration_seconds",
    help: "Time waiting for outgoing RPCs.",
    labelNames: ["method"] as const,
    buckets: latencyBuckets,
    registers: [metricsRegistry],
  }),
};

export { latencyBuckets };

/** The RPC series of one method, bound once: a call records its outcome without building label sets. */
export interface BoundRpcMetrics {
  /** Counts a call that ended with gRPC status `code` after `seconds`. */
  observe(code: number, seconds: number): void;
}

/** A gRPC status code as the `code` label reads it: `ok`, else Connect's name (`NotFound`, ...). */
const codeLabel = (code: number): string => (code === 0 ? "ok" : (Code[code] ?? String(code)));

function bound(requests: Counter<"method" | "code">, duration: Histogram<"method">, method: string): BoundRpcMetrics {
  const byCode: ReturnType<typeof requests.labels>[] = [];
  const timing = duration.labels(method);
  return {
    observe(code, seconds) {
      let counter = byCode[code];
      if (!counter) counter = byCode[code] = requests.labels(method, codeLabel(code));
      counter.inc();
      timing.observe(seconds);
    },
  };
}

export const rpcServerMetrics = (method: string): BoundRpcMetrics => bound(rpcMetrics.serverRequests, rpcMetrics.serverDuration, method);
export const rpcClientMetrics = (method: string): BoundRpcMetrics => bound(rpcMetrics.clientRequests, rpcMetrics.clientDuration, method);

/** Serves `GET /metrics` on its own port (gRPC ports speak HTTP/2 only). Port 0 picks a free one. */
export async function serveMetrics(port: number, host = "0.0.0.0"): Promise<http.Server> {
  const server = http.createServer(async (req, res) => {
    if (req.url !== "/metrics") {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { "content-type": metricsRegistry.contentType });
    res.end(await metricsRegistry.metrics());
  });
  await new Promise<void>((resolve, reject) => server.once("error", reject).listen(port, host, resolve));
  return server;
}
