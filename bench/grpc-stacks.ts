/**
 * Unary throughput and latency of the gRPC stacks the runtime could use: the same Connect
 * ServiceImpl served by the runtime's grpc-js server and by connect-node, each called by the
 * runtime's grpc-js transport and by Connect's gRPC transport. The server runs in a child
 * process so that it and the load generator each get a core.
 *
 *   node --import tsx bench/grpc-stacks.ts
 *   BENCH_WARMUP_MS=1000 BENCH_DURATION_MS=5000 BENCH_CONCURRENCY=50 BENCH_ROUNDS=3 node --import tsx bench/grpc-stacks.ts
 */
import * as http2 from "node:http2";
import { fileURLToPath } from "node:url";
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { type Client, createClient, type Interceptor } from "@connectrpc/connect";
import { connectNodeAdapter, createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { CatalogService, type GetProductResponse, ProductSchema } from "@shop/contracts/shop/catalog/v1/catalog_pb.js";
import {
  createLogger,
  createServiceClient,
  demoCurrency,
  demoProducts,
  type ServiceRegistration,
  startGrpcServer,
  validateMessage,
} from "@shop/runtime";
import { testTokenVerifier } from "@shop/runtime/testing";
import { type ServedByChild, serveForParent, startChildServer } from "./lib/child-server.js";
import { loadBenchConfig } from "./lib/config.js";
import { type LoadOptions, type LoadResult, runLoad } from "./lib/load.js";
import { median } from "./lib/percentiles.js";
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
    const server = await startGrpcServer({
      registrations: [registration],
      logger: createLogger("bench", "silent"),
      tokens: testTokenVerifier(),
      host: "127.0.0.1",
      port: 0,
    });
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

const combinations = serverStacks.flatMap((server) => clientStacks.map((client) => ({ server, client })));

function ownCpuSeconds(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
}

/** CPU seconds a process spends between start() and stop(). */
function cpuMeter(readSeconds: () => number) {
  let startedAt = 0;
  let used = 0;
  return {
    start: () => void (startedAt = readSeconds()),
    stop: () => void (used = readSeconds() - startedAt),
    seconds: () => used,
  };
}

interface RoundResult {
  load: LoadResult;
  /** CPU time per successful call over the measured phase: unlike calls/s, barely moved by other work on the machine. */
  serverCpuUs: number;
  clientCpuUs: number;
}

interface Measurement {
  server: ServerStack;
  client: ClientStack;
  /** One per round. */
  rounds: RoundResult[];
}

async function measure(server: ServerStack, client: ClientStack, config: LoadOptions): Promise<RoundResult> {
  // A fresh server per measurement, so none inherits another's state.
  const child = await startChildServer(fileURLToPath(import.meta.url), { args: ["serve", server] });
  const connection = connectTo(client, child.port);
  const serverCpu = cpuMeter(() => child.cpuSeconds());
  const clientCpu = cpuMeter(ownCpuSeconds);
  try {
    const request = { productId: demo.id };
    const load = await runLoad(() => connection.client.getProduct(request), {
      ...config,
      onMeasureStart: () => {
        serverCpu.start();
        clientCpu.start();
      },
      onMeasureEnd: () => {
        serverCpu.stop();
        clientCpu.stop();
      },
    });
    return { load, serverCpuUs: (serverCpu.seconds() * 1e6) / load.calls, clientCpuUs: (clientCpu.seconds() * 1e6) / load.calls };
  } finally {
    connection.close();
    await child.stop();
  }
}

async function measureAll(config: ReturnType<typeof loadBenchConfig>): Promise<Measurement[]> {
  const measurements = combinations.map(({ server, client }): Measurement => ({ server, client, rounds: [] }));
  for (let round = 1; round <= config.rounds; round++) {
    // Every other round runs backwards, so a slow drift of the machine favours no combination.
    const order = round % 2 ? measurements : [...measurements].reverse();
    for (const measurement of order) {
      process.stderr.write(`round ${round}/${config.rounds}: ${measurement.server} server <- ${measurement.client} client\n`);
      measurement.rounds.push(await measure(measurement.server, measurement.client, config));
    }
  }
  return measurements;
}

const medianOf = (rounds: RoundResult[], figure: (round: RoundResult) => number) => median(rounds.map(figure));

function report(measurements: Measurement[], rounds: number): void {
  const figure = (server: ServerStack, client: ClientStack, pick: (round: RoundResult) => number) =>
    medianOf(measurements.find((m) => m.server === server && m.client === client)!.rounds, pick);
  const callsPerSecond = (round: RoundResult) => round.load.callsPerSecond;
  const rows = measurements.map(({ server, client, rounds }) => [
    server,
    client,
    Math.round(medianOf(rounds, callsPerSecond)),
    rounds.map((r) => Math.round(callsPerSecond(r))).join(" "),
    formatMs(medianOf(rounds, (r) => r.load.latencyMs.p50)),
    formatMs(medianOf(rounds, (r) => r.load.latencyMs.p99)),
    Math.round(medianOf(rounds, (r) => r.serverCpuUs)),
    Math.round(medianOf(rounds, (r) => r.clientCpuUs)),
    rounds.reduce((sum, r) => sum + r.load.errors, 0),
  ]);
  if (rounds > 1) console.log(`medians of ${rounds} rounds`);
  console.log(
    formatTable(
      ["server", "client", "calls/s", "calls/s per round", "p50 ms", "p99 ms", "server CPU us/call", "client CPU us/call", "errors"],
      rows,
    ),
  );
  console.log();
  // Both ratios read "how much better the first stack is": above 1 favours grpc-js.
  const ratios = [
    ...clientStacks.map((client) => [
      "grpc-js server vs connect-node server",
      `${client} client`,
      formatRatio(figure("grpc-js", client, callsPerSecond), figure("connect-node", client, callsPerSecond)),
      formatRatio(
        figure("connect-node", client, (r) => r.serverCpuUs),
        figure("grpc-js", client, (r) => r.serverCpuUs),
      ),
    ]),
    ...serverStacks.map((server) => [
      "grpc-js client vs connect client",
      `${server} server`,
      formatRatio(figure(server, "grpc-js", callsPerSecond), figure(server, "connect", callsPerSecond)),
      formatRatio(
        figure(server, "connect", (r) => r.clientCpuUs),
        figure(server, "grpc-js", (r) => r.clientCpuUs),
      ),
    ]),
  ];
  console.log(formatTable(["comparison", "with the same", "calls/s ratio", "CPU per call, inverse ratio"], ratios));
}

if (process.argv[2] === "serve") {
  const stack = process.argv[3] as ServerStack;
  if (!serverStacks.includes(stack)) throw new Error(`unknown server stack "${process.argv[3]}": one of ${serverStacks.join(", ")}`);
  await serveForParent(() => serve(stack));
} else {
  const config = loadBenchConfig();
  console.log(`${await describeMachine()} (before)`);
  console.log(
    `warm-up ${config.warmupMs} ms, measured ${config.durationMs} ms, ${config.concurrency} concurrent calls, ${config.rounds} round(s)`,
  );
  const measurements = await measureAll(config);
  report(measurements, config.rounds);
  console.log(`\n${await describeMachine()} (after)`);
  const failed = measurements.flatMap(({ server, client, rounds }) =>
    rounds.filter((r) => r.load.errors > 0).map((r) => ({ server, client, load: r.load })),
  );
  for (const { server, client, load } of failed) {
    console.error(`${server} server <- ${client} client: ${load.errors} errors, first: ${String(load.firstError)}`);
  }
  process.exitCode = failed.length > 0 ? 1 : 0;
}
