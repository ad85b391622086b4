/**
 * Unary throughput and latency of the gRPC stacks the runtime could use: the same Connect
 * ServiceImpl served by the runtime's grpc-js server and by connect-node, each called by the
 * runtime's grpc-js transport and by Connect's gRPC transport. The server runs in a child
 * process so that it and the load generator each get a core.
 *
 *   node --import tsx bench/grpc-stacks.ts
 *   BENCH_WARMUP_MS=1000 BENCH_DURATION_MS=5000 BENCH_CONCURRENCY=50 node --import tsx bench/grpc-stacks.ts
 */
import * as http2 from "node:http2";
import { fileURLToPath } from "node:url";
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { createClient, type Client, type Interceptor } from "@connectrpc/connect";
import { connectNodeAdapter, createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { CatalogService, ProductSchema, type GetProductResponse } from "@shop/contracts/shop/catalog/v1/catalog_pb.js";
import {
  createLogger,
  createServiceClient,
  demoCurrency,
  demoProducts,
  startGrpcServer,
  validateMessage,
  type ServiceRegistration,
} from "@shop/runtime";
import { serveForParent, startChildServer, type ServedByChild } from "./lib/child-server.js";
import { loadBenchConfig } from "./lib/config.js";
import { runLoad, type LoadResult } from "./lib/load.js";
import { describeMachine, formatMs, formatRatio, formatTable } from "./lib/report.js";

const serverStacks = ["grpc-js", "connect-node"] as const;
const clientStacks = ["grpc-js", "connect"] as const;
type ServerStack = (typeof serverStacks)[number];
type ClientStack = (typeof clientStacks)[number];

const demo = demoProducts[0];
// Built once: the handler returns the same message, so the stacks are measured, not the handler.
const product = create(ProductSchema, {
  id: demo.id,
  sku: demo.sku,
  name: demo.name,
  description: demo.description,
  price: { currencyCode: demoCurrency, amountMinor: demo.priceMinor },
  createTime: timestampFromDate(new Date("2026-01-01T00:00:00Z")),
  updateTime: timestampFromDate(new Date("2026-01-01T00:00:00Z")),
});
const catalogImpl = { getProduct: (): Partial<GetProductResponse> => ({ product }) };

// The runtime's server checks every request against its protovalidate rules; connect-node does
// the same work here so that both servers answer the same question.
const validateRequests: Interceptor = (next) => async (request) => {
  if (!request.stream) validateMessage(request.method.input, request.message);
  return next(request);
};

async function serve(stack: ServerStack): Promise<ServedByChild> {
  if (stack === "grpc-js") {
    const registration: ServiceRegistration = { service: CatalogService, impl: catalogImpl };
    const server = await startGrpcServer({ registrations: [registration], logger: createLogger("bench", "silent"), host: "127.0.0.1", port: 0 });
    return { port: server.port, close: () => server.shutdown(1_000) };
  }
  const server = http2.createServer(
    connectNodeAdapter({ routes: (router) => router.service(CatalogService, catalogImpl), interceptors: [validateRequests] }),
  );
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on("session", (session) => {
    sessions.add(session);
    session.once("close", () => sessions.delete(session));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as { port: number }).port,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        for (const session of sessions) session.close();
      }),
  };
}

function connectTo(stack: ClientStack, port: number): { client: Client<typeof CatalogService>; close(): void } {
  if (stack === "grpc-js") {
    const client = createServiceClient(CatalogService, { address: `127.0.0.1:${port}` });
    return { client, close: () => client.close() };
  }
  const baseUrl = `http://127.0.0.1:${port}`;
  const sessionManager = new Http2SessionManager(baseUrl);
  return { client: createClient(CatalogService, createGrpcTransport({ baseUrl, sessionManager })), close: () => sessionManager.abort() };
}

interface Measurement {
  server: ServerStack;
  client: ClientStack;
  result: LoadResult;
}

async function measureAll(): Promise<Measurement[]> {
  const config = loadBenchConfig();
  const script = fileURLToPath(import.meta.url);
  console.log(`${describeMachine()} (before)`);
  console.log(`warm-up ${config.warmupMs} ms, measured ${config.durationMs} ms, ${config.concurrency} concurrent calls per combination`);
  const measurements: Measurement[] = [];
  for (const server of serverStacks) {
    for (const client of clientStacks) {
      process.stderr.write(`${server} server <- ${client} client ...\n`);
      // A fresh server per combination, so no combination inherits another's state.
      const child = await startChildServer(script, { args: ["serve", server] });
      const connection = connectTo(client, child.port);
      try {
        const request = { productId: demo.id };
        const result = await runLoad(() => connection.client.getProduct(request), config);
        measurements.push({ server, client, result });
      } finally {
        connection.close();
        await child.stop();
      }
    }
  }
  return measurements;
}

function report(measurements: Measurement[]): void {
  const find = (server: ServerStack, client: ClientStack) =>
    measurements.find((m) => m.server === server && m.client === client)!.result.callsPerSecond;
  const rows = measurements.map(({ server, client, result }) => [
    server,
    client,
    Math.round(result.callsPerSecond),
    formatMs(result.latencyMs.p50),
    formatMs(result.latencyMs.p99),
    result.errors,
  ]);
  console.log(formatTable(["server", "client", "calls/s", "p50 ms", "p99 ms", "errors"], rows));
  console.log();
  const ratios = [
    ...clientStacks.map((client) => [`grpc-js server / connect-node server`, `${client} client`, formatRatio(find("grpc-js", client), find("connect-node", client))]),
    ...serverStacks.map((server) => [`grpc-js client / connect client`, `${server} server`, formatRatio(find(server, "grpc-js"), find(server, "connect"))]),
  ];
  console.log(formatTable(["calls/s ratio", "with the same", "ratio"], ratios));
  console.log();
  console.log(`${describeMachine()} (after)`);
}

if (process.argv[2] === "serve") {
  const stack = process.argv[3] as ServerStack;
  if (!serverStacks.includes(stack)) throw new Error(`unknown server stack "${process.argv[3]}": one of ${serverStacks.join(", ")}`);
  await serveForParent(() => serve(stack));
} else {
  const measurements = await measureAll();
  report(measurements);
  const failed = measurements.filter((m) => m.result.errors > 0);
  for (const { server, client, result } of failed) {
    console.error(`${server} server <- ${client} client: ${result.errors} errors, first: ${String(result.firstError)}`);
  }
  process.exitCode = failed.length > 0 ? 1 : 0;
}
