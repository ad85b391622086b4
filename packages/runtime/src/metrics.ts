import http from "node:http";
import { Counter, collectDefaultMetrics, Histogram, Registry } from "prom-client";

/** Process-wide Prometheus registry: default process metrics plus the RPC metrics below. */
export const metricsRegistry = new Registry();
collectDefaultMetrics({ register: metricsRegistry });

const latencyBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

export const rpcMetrics = {
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
