/**
 * GET /v1/products/{id}, five ways, side by side in one run, against the real catalog on
 * PostgreSQL:
 *
 *   gateway          REST through the gateway (every production feature on), transcoded to gRPC,
 *                    to the catalog service as `npm start` runs it
 *   bare transcoder  REST through a plain node:http + protobuf-es + grpc-js transcoder of this one
 *                    route, to the same catalog service: the floor of the gateway's own work
 *   direct gRPC      the same RPC on the same catalog service, from the runtime's grpc-js client
 *   bare server      the same RPC from the same client, on a plain grpc-js server running the
 *                    catalog's repository call: the floor of the service's own work
 *   express proxy    an express + http-proxy-middleware JSON proxy in front of an express JSON
 *                    service reading the same product through the catalog's own repository
 *
 * Every server runs in its own process; this process only generates load.
 *
 *   npm run bench:gateway
 *   BENCH_ROUNDS=3 BENCH_DURATION_MS=5000 BENCH_CONCURRENCY=50 npm run bench:gateway
 *   BENCH_GATEWAY_ACCESS_LOG=false npm run bench:gateway          # without the access log
 *   BENCH_CPU_PROFILE=gateway,catalog npm run bench:gateway      # CPU profiles in bench/.profiles/
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { CatalogService } from "@shop/contracts/shop/catalog/v1/catalog_pb.js";
import {
  contexts,
  createLogger,
  createServiceClient,
  createSqlDatabase,
  defaultNatsUrl,
  demoProducts,
  env,
  envPrefix,
  initTracing,
  isUuid,
  loadConfig,
  startService,
} from "@shop/runtime";
import { createTestDatabase, credentialsEnv } from "@shop/runtime/testing";
import express from "express";
import { createProxyMiddleware } from "http-proxy-middleware";
import { pino } from "pino";
import { loadGatewayConfig } from "../gateway/src/config.js";
import { buildGateway } from "../gateway/src/server.js";
import { loadCatalogConfig } from "../services/catalog/src/config.js";
import { ProductRepository } from "../services/catalog/src/db/products.js";
import { buildCatalog } from "../services/catalog/src/server.js";
import { serveBareCatalog, serveBareTranscoder } from "./lib/bare-catalog.js";
import { type ChildServer, type ServedByChild, serveForParent, startChildServer } from "./lib/child-server.js";
import { loadBenchConfig } from "./lib/config.js";
import { type CpuGroup, PostgresBackends, startCpuWindow } from "./lib/cpu.js";
import { createJsonClient } from "./lib/http-json.js";
import { type LoadOptions, type LoadResult, runLoad } from "./lib/load.js";
import { median } from "./lib/percentiles.js";
import { describeMachine, formatMs, formatRatio, formatTable } from "./lib/report.js";
import { runAtSteadyRate } from "./lib/steady-rate.js";

const script = fileURLToPath(import.meta.url);
const catalogDir = path.resolve(import.meta.dirname, "../services/catalog");
const product = demoProducts[0];

const targets = ["gateway", "bare transcoder", "direct gRPC", "bare server", "express proxy"] as const;
/** Direct gRPC paced to the calls/s the gateway reached in the same round, so the catalog sees the same rate. */
const paced = "direct gRPC at the gateway's rate";
type Target = (typeof targets)[number] | typeof paced;
const reported: readonly Target[] = [targets[0], paced, ...targets.slice(1)];

const listen = async (server: http.Server): Promise<number> => {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return (server.address() as AddressInfo).port;
};

const closeHttp = (server: http.Server) =>
  new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });

/** The catalog service as `npm start` runs it, on the benchmark's database. */
async function serveCatalog(databaseUrl: string): Promise<ServedByChild> {
  initTracing("catalog");
  const config = loadCatalogConfig({
    ...credentialsEnv("catalog"),
    CATALOG_HOST: "127.0.0.1",
    CATALOG_PORT: "0",
    CATALOG_METRICS_PORT: "0",
    CATALOG_DATABASE_URL: databaseUrl,
    LOG_LEVEL: "warn",
  });
  const service = await startService({ context: "catalog", serviceDir: catalogDir, config, start: buildCatalog });
  return { port: service.grpc.port, close: () => service.stop() };
}

/** The gateway with production settings (tracing, metrics, rate limits, access log written to /dev/null unless turned off). */
async function serveGateway(catalogAddress: string, accessLog: boolean): Promise<ServedByChild> {
  initTracing("gateway");
  const config = loadGatewayConfig({
    ...credentialsEnv("gateway"),
    ...Object.fromEntries(contexts.map((context) => [`${envPrefix(context)}_ADDR`, catalogAddress])),
    GATEWAY_RATE_LIMIT_CAPACITY: "1000000",
    GATEWAY_RATE_LIMIT_REFILL_PER_SECOND: "1000000",
    NATS_URL: process.env.NATS_URL ?? defaultNatsUrl,
  });
  // The production logger, buffered as on stdout, writing to /dev/null instead.
  const logger = createLogger(
    "gateway",
    accessLog ? "info" : "warn",
    pino.destination({ dest: "/dev/null", sync: false, minLength: 4096 }),
  );
  const gateway = await buildGateway(config, { logger });
  return { port: await listen(gateway), close: () => gateway.shutdown() };
}

/** A plain express JSON service doing the catalog's work for this call: check the id, read the row, answer JSON. */
async function serveJsonCatalog(databaseUrl: string): Promise<ServedByChild> {
  const db = createSqlDatabase(databaseUrl);
  const products = new ProductRepository(db);
  const app = express();
  app.get("/v1/products/:productId", async (req, res) => {
    const id = req.params.productId;
    if (!isUuid(id)) {
      res.status(400).json({ code: "invalid_argument", message: "productId: must be a valid UUID", details: [] });
      return;
    }
    const row = await products.get(id);
    if (!row) {
      res.status(404).json({ code: "not_found", message: `product ${id} not found`, details: [] });
      return;
    }
    res.json({
      product: {
        id: row.id,
        sku: row.sku,
        name: row.name,
        description: row.description,
        price: { currencyCode: row.currency, amountMinor: String(row.priceMinor) },
        createTime: row.createdAt.toISOString(),
        updateTime: row.updatedAt.toISOString(),
      },
    });
  });
  const server = http.createServer(app);
  return {
    port: await listen(server),
    close: async () => {
      await closeHttp(server);
      await db.close();
    },
  };
}

/** A naive REST reverse proxy: express and http-proxy-middleware with their defaults. */
async function serveExpressProxy(targetPort: number): Promise<ServedByChild> {
  const app = express();
  app.use(createProxyMiddleware({ target: `http://127.0.0.1:${targetPort}` }));
  const server = http.createServer(app);
  return { port: await listen(server), close: () => closeHttp(server) };
}

interface Servers {
  databaseUrl: string;
  catalog: ChildServer;
  gateway: ChildServer;
  bareCatalog: ChildServer;
  bareTranscoder: ChildServer;
  jsonCatalog: ChildServer;
  expressProxy: ChildServer;
  stop(): Promise<void>;
}

async function startServers(databaseUrl: string, accessLog: boolean): Promise<Servers> {
  const started: ChildServer[] = [];
  const child = async (args: string[]) => {
    const server = await startChildServer(script, { name: args[0], args: ["serve", ...args] });
    started.push(server);
    return server;
  };
  const stop = async () => {
    for (const server of started.reverse()) await server.stop();
  };
  try {
    const catalog = await child(["catalog", databaseUrl]);
    const gateway = await child(["gateway", `127.0.0.1:${catalog.port}`, String(accessLog)]);
    const bareCatalog = await child(["bare-catalog", databaseUrl]);
    const bareTranscoder = await child(["bare-transcoder", `127.0.0.1:${catalog.port}`]);
    const jsonCatalog = await child(["json-catalog", databaseUrl]);
    const expressProxy = await child(["express-proxy", String(jsonCatalog.port)]);
    return { databaseUrl, catalog, gateway, bareCatalog, bareTranscoder, jsonCatalog, expressProxy, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** The processes doing a target's work, for CPU time per call. */
function serverProcesses(target: Target, servers: Servers, postgres: PostgresBackends): CpuGroup[] {
  const group = (name: string, child: ChildServer): CpuGroup => ({ name, pids: () => [child.pid] });
  const byTarget: Record<Target, CpuGroup[]> = {
    gateway: [group("gateway", servers.gateway), group("catalog", servers.catalog)],
    "bare transcoder": [group("bare transcoder", servers.bareTranscoder), group("catalog", servers.catalog)],
    "direct gRPC": [group("catalog", servers.catalog)],
    [paced]: [group("catalog", servers.catalog)],
    "bare server": [group("bare server", servers.bareCatalog)],
    "express proxy": [group("express proxy", servers.expressProxy), group("JSON service", servers.jsonCatalog)],
  };
  return [...byTarget[target], postgres];
}

interface Measurement {
  load: LoadResult;
  /** CPU time per measured call, in microseconds, by process group. */
  cpuMicrosPerCall: Record<string, number>;
}

/** Calls at a steady `ratePerSecond` instead of a closed loop, with the figures a closed loop gives (no latencies). */
async function runPaced(call: () => Promise<unknown>, ratePerSecond: number, options: LoadOptions): Promise<LoadResult> {
  const run = await runAtSteadyRate(
    async () => {
      await call();
    },
    { ratePerSecond, durationMs: options.durationMs, maxInFlight: options.concurrency },
  );
  const latencyMs = { count: 0, mean: Number.NaN, p50: Number.NaN, p90: Number.NaN, p99: Number.NaN, max: Number.NaN };
  return {
    calls: run.completed,
    errors: run.errors,
    firstError: run.firstError,
    elapsedMs: run.elapsedMs,
    callsPerSecond: (run.completed * 1000) / run.elapsedMs,
    latencyMs,
  };
}

async function measure(target: Target, servers: Servers, options: LoadOptions, pacedRate?: number): Promise<Measurement> {
  let call: () => Promise<unknown>;
  let close: () => void;
  if (target === "direct gRPC" || target === paced || target === "bare server") {
    const server = target === "bare server" ? servers.bareCatalog : servers.catalog;
    const client = createServiceClient(CatalogService, { address: `127.0.0.1:${server.port}` });
    call = () => client.getProduct({ productId: product.id });
    close = () => client.close();
  } else {
    const fronts = { gateway: servers.gateway, "bare transcoder": servers.bareTranscoder, "express proxy": servers.expressProxy };
    const port = fronts[target].port;
    const client = createJsonClient(`http://127.0.0.1:${port}`, options.concurrency);
    call = () => client.request("GET", `/v1/products/${product.id}`);
    close = () => client.close();
  }
  try {
    // Warm-up apart, so that CPU time is counted for the measured calls only.
    const warmup = await runLoad(call, { ...options, warmupMs: 0, durationMs: Math.max(1, options.warmupMs) });
    const postgres = new PostgresBackends("postgres", [servers.databaseUrl]);
    const groups = [...serverProcesses(target, servers, postgres), { name: "load generator", pids: () => [process.pid] }];
    await postgres.refresh();
    const window = startCpuWindow(groups);
    const load = pacedRate === undefined ? await runLoad(call, { ...options, warmupMs: 0 }) : await runPaced(call, pacedRate, options);
    await postgres.refresh();
    const cpu = window.finish();
    const cpuMicrosPerCall = Object.fromEntries(
      cpu.groups.map((g) => [g.name, load.calls > 0 ? (g.seconds * 1e6) / load.calls : Number.NaN]),
    );
    return { load: { ...load, errors: load.errors + warmup.errors, firstError: warmup.firstError ?? load.firstError }, cpuMicrosPerCall };
  } finally {
    close();
  }
}

function report(results: Map<Target, Measurement[]>, rounds: number): void {
  const medianOf = (target: Target, figure: (m: Measurement) => number) => median(results.get(target)!.map(figure));
  if (rounds > 1) console.log(`calls/s, latencies and CPU: medians of ${rounds} rounds`);
  console.log(
    formatTable(
      ["GET /v1/products/{id}", "calls/s", "calls/s per round", "p50 ms", "p99 ms", "errors"],
      reported.map((target) => [
        target,
        Math.round(medianOf(target, (m) => m.load.callsPerSecond)),
        results
          .get(target)!
          .map((m) => Math.round(m.load.callsPerSecond))
          .join(" "),
        formatMs(medianOf(target, (m) => m.load.latencyMs.p50)),
        formatMs(medianOf(target, (m) => m.load.latencyMs.p99)),
        results.get(target)!.reduce((sum, m) => sum + m.load.errors, 0),
      ]),
    ),
  );
  console.log();
  console.log(
    formatTable(
      ["CPU per call (us)", "process", "us"],
      reported.flatMap((target) =>
        Object.keys(results.get(target)![0]!.cpuMicrosPerCall).map((name) => [
          target,
          name,
          Math.round(medianOf(target, (m) => m.cpuMicrosPerCall[name]!)),
        ]),
      ),
    ),
  );
  console.log();
  const throughput = (target: Target) => medianOf(target, (m) => m.load.callsPerSecond);
  const cpu = (target: Target, process: string) => medianOf(target, (m) => m.cpuMicrosPerCall[process]!);
  console.log(
    formatTable(
      ["ratio", "figure", "target"],
      [
        ["calls/s: gateway / direct gRPC", formatRatio(throughput("gateway"), throughput("direct gRPC")), ">= 0.80x"],
        ["calls/s: gateway / express proxy", formatRatio(throughput("gateway"), throughput("express proxy")), ">= 1.50x"],
        [
          "CPU per call: gateway / bare transcoder",
          formatRatio(cpu("gateway", "gateway"), cpu("bare transcoder", "bare transcoder")),
          "<= 1.50x",
        ],
        [
          "CPU per call: catalog / bare server (direct gRPC)",
          formatRatio(cpu("direct gRPC", "catalog"), cpu("bare server", "bare server")),
          "<= 1.30x",
        ],
        [
          "CPU per call: catalog called by the gateway / directly at the same rate",
          formatRatio(cpu("gateway", "catalog"), cpu(paced, "catalog")),
          "<= 1.10x",
        ],
        [
          "CPU per call: catalog called by the gateway / directly, each as fast as it goes",
          formatRatio(cpu("gateway", "catalog"), cpu("direct gRPC", "catalog")),
          "",
        ],
        ["gateway CPU per call (us)", Math.round(cpu("gateway", "gateway")), "<= 250"],
      ],
    ),
  );
}

async function main(): Promise<void> {
  // Long enough a warm-up for V8 to compile the gateway's request path; medians of three rounds.
  const config = loadBenchConfig(process.env, { warmupMs: 3_000, rounds: 3 });
  const { BENCH_GATEWAY_ACCESS_LOG: accessLog } = loadConfig({ BENCH_GATEWAY_ACCESS_LOG: env.bool(true) });
  console.log(`${await describeMachine()} (before)`);
  console.log(
    `warm-up ${config.warmupMs} ms, measured ${config.durationMs} ms, ${config.concurrency} concurrent calls, ${config.rounds} round(s), ` +
      `gateway access log ${accessLog ? "on" : "off"}`,
  );
  const db = await createTestDatabase("catalog", catalogDir);
  const servers = await startServers(db.url, accessLog).catch(async (err: unknown) => {
    await db.drop();
    throw err;
  });
  const results = new Map<Target, Measurement[]>(reported.map((target) => [target, []]));
  try {
    for (let round = 1; round <= config.rounds; round++) {
      // Every other round runs backwards, so a slow drift of the machine favours no target.
      for (const target of round % 2 ? targets : [...targets].reverse()) {
        process.stderr.write(`round ${round}/${config.rounds}: ${target}\n`);
        const measured = await measure(target, servers, config);
        results.get(target)!.push(measured);
        if (target !== "gateway") continue;
        process.stderr.write(`round ${round}/${config.rounds}: ${paced}\n`);
        results.get(paced)!.push(await measure(paced, servers, config, measured.load.callsPerSecond));
      }
    }
  } finally {
    await servers.stop();
    await db.drop();
  }
  report(results, config.rounds);
  console.log(`\n${await describeMachine()} (after)`);
  const failed = [...results].flatMap(([target, runs]) => runs.filter((m) => m.load.errors > 0).map((m) => ({ target, load: m.load })));
  for (const { target, load } of failed) console.error(`${target}: ${load.errors} errors, first: ${String(load.firstError)}`);
  process.exitCode = failed.length > 0 ? 1 : 0;
}

if (process.argv[2] === "serve") {
  const [, , , kind, argument, extra] = process.argv;
  const servers: Record<string, () => Promise<ServedByChild>> = {
    catalog: () => serveCatalog(argument!),
    gateway: () => serveGateway(argument!, extra === "true"),
    "bare-catalog": () => serveBareCatalog(argument!),
    "bare-transcoder": () => serveBareTranscoder(argument!),
    "json-catalog": () => serveJsonCatalog(argument!),
    "express-proxy": () => serveExpressProxy(Number(argument)),
  };
  const serve = servers[kind!];
  if (!serve) throw new Error(`unknown server "${kind}": one of ${Object.keys(servers).join(", ")}`);
  await serveForParent(serve);
} else {
  await main();
}
