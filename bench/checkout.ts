/**
 * Checkout throughput and end-to-end latency through the gateway, on the whole system: every
 * service and the gateway in its own process (fresh databases, a private NATS), driven by
 * concurrent customers. Each customer places an order (POST /v1/orders, tok_visa), then waits
 * for it to be CONFIRMED before placing the next, so the concurrency bounds the orders in flight.
 * CONFIRMED is seen when `shop.orders.order_confirmed` arrives on NATS, not by polling the API.
 *
 *   node --import tsx bench/checkout.ts
 *   BENCH_CONCURRENCY=32 BENCH_WARMUP_MS=5000 BENCH_DURATION_MS=20000 node --import tsx bench/checkout.ts
 *   BENCH_ORDERS=3000 node --import tsx bench/checkout.ts        (a fixed number of measured orders)
 *
 * Each concurrent customer has an account of its own, as the gateway limits requests per user.
 * Other knobs: BENCH_IDLE_MS, BENCH_PRODUCTS, BENCH_ITEMS_PER_ORDER, BENCH_CONFIRM_TIMEOUT_MS,
 * BENCH_LOG_LEVEL (of every process; `info` adds the gateway's access log). Any service setting
 * in the environment (SAGA_CONCURRENCY, DOWNSTREAM_MAX_CONCURRENT_CALLS, ...) reaches the services.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { performance } from "node:perf_hooks";
import { fromBinary } from "@bufbuild/protobuf";
import type { ShopContext } from "@shop/contracts";
import { OrderCancelledSchema, OrderConfirmedSchema } from "@shop/contracts/shop/orders/v1/events_pb.js";
import { contexts, env, eventSubject, loadConfig, streamName } from "@shop/runtime";
import { connect, type NatsConnection } from "nats";
import pg from "pg";
import { type RunningStack, startStack } from "../tests/support/stack.js";
import { cpuProfileArgs } from "./lib/child-server.js";
import { type CpuWindow, formatCpuTable, PostgresBackends, startCpuWindow } from "./lib/cpu.js";
import { createJsonClient, type JsonClient } from "./lib/http-json.js";
import { summarize } from "./lib/percentiles.js";
import { describeMachine, formatMs, formatTable } from "./lib/report.js";

const targets = { ordersPerSecond: 300, p99Ms: 250 };
const loadGeneratorName = "load generator (this process)";

const config = loadConfig({
  /** Length of the window that measures the stack's CPU use with no orders. */
  BENCH_IDLE_MS: env.int(3_000, { min: 100 }),
  BENCH_WARMUP_MS: env.int(5_000, { min: 0 }),
  BENCH_DURATION_MS: env.int(20_000, { min: 100 }),
  /** Measured orders; when above 0 it replaces BENCH_DURATION_MS. */
  BENCH_ORDERS: env.int(0, { min: 0 }),
  BENCH_CONCURRENCY: env.int(32, { min: 1 }),
  BENCH_PRODUCTS: env.int(20, { min: 1 }),
  BENCH_ITEMS_PER_ORDER: env.int(2, { min: 1, max: 50 }),
  BENCH_CONFIRM_TIMEOUT_MS: env.int(30_000, { min: 1 }),
  BENCH_LOG_LEVEL: env.oneOf(["fatal", "error", "warn", "info", "debug"] as const, "warn"),
  ADMIN_EMAIL: env.string("admin@shop.local"),
  ADMIN_PASSWORD: env.string("admin-password"),
});
const itemsPerOrder = Math.min(config.BENCH_ITEMS_PER_ORDER, config.BENCH_PRODUCTS);

type Outcome = { kind: "confirmed"; at: number } | { kind: "cancelled"; reason: string } | { kind: "timed-out" };

/** Matches order events from NATS to the customers waiting for them. */
class OrderOutcomes {
  private readonly waiting = new Map<string, (outcome: Outcome) => void>();
  // An event can beat the HTTP response that names its order.
  private readonly early = new Map<string, Outcome>();

  settle(orderId: string, outcome: Outcome): void {
    const resolve = this.waiting.get(orderId);
    if (resolve) {
      this.waiting.delete(orderId);
      resolve(outcome);
    } else {
      this.early.set(orderId, outcome);
    }
  }

  wait(orderId: string, timeoutMs: number): Promise<Outcome> {
    const known = this.early.get(orderId);
    if (known) {
      this.early.delete(orderId);
      return Promise.resolve(known);
    }
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiting.delete(orderId);
        resolve({ kind: "timed-out" });
      }, timeoutMs);
      this.waiting.set(orderId, (outcome) => {
        clearTimeout(timer);
        resolve(outcome);
      });
    });
  }
}

function watchOutcomes(nc: NatsConnection, outcomes: OrderOutcomes): void {
  nc.subscribe(eventSubject(OrderConfirmedSchema), {
    callback: (err, msg) => {
      if (err) return;
      const at = performance.now();
      outcomes.settle(fromBinary(OrderConfirmedSchema, msg.data).orderId, { kind: "confirmed", at });
    },
  });
  nc.subscribe(eventSubject(OrderCancelledSchema), {
    callback: (err, msg) => {
      if (err) return;
      const event = fromBinary(OrderCancelledSchema, msg.data);
      outcomes.settle(event.orderId, { kind: "cancelled", reason: event.reason });
    },
  });
}

interface Shop {
  productIds: string[];
  customerTokens: string[];
}

/** Products with ample stock and customers with tokens, all made through the public API. */
async function prepareShop(api: JsonClient): Promise<Shop> {
  const run = randomBytes(3).toString("hex").toUpperCase();
  const auth = (token: string) => ({ authorization: `Bearer ${token}` });
  const { accessToken: adminToken } = await api.request<{ accessToken: string }>("POST", "/v1/auth/token", {
    body: { email: config.ADMIN_EMAIL, password: config.ADMIN_PASSWORD },
  });
  const productIds = await Promise.all(
    Array.from({ length: config.BENCH_PRODUCTS }, async (_, index) => {
      const { product } = await api.request<{ product: { id: string } }>("POST", "/v1/products", {
        headers: auth(adminToken),
        body: {
          sku: `BENCH-${run}-${index}`,
          name: `Bench product ${index}`,
          description: "",
          price: { currencyCode: "USD", amountMinor: String(500 + index * 10) },
        },
      });
      await api.request("PUT", `/v1/products/${product.id}/stock`, { headers: auth(adminToken), body: { quantity: 1_000_000 } });
      return product.id;
    }),
  );
  const customerTokens = await Promise.all(
    Array.from({ length: config.BENCH_CONCURRENCY }, async (_, index) => {
      const credentials = { email: `bench-${run.toLowerCase()}-${index}@bench.example`, password: "bench-password" };
      await api.request("POST", "/v1/users", { body: { ...credentials, name: `Bench customer ${index}` } });
      const { accessToken } = await api.request<{ accessToken: string }>("POST", "/v1/auth/token", { body: credentials });
      return accessToken;
    }),
  );
  return { productIds, customerTokens };
}

function orderBody(productIds: string[]) {
  const first = Math.floor(Math.random() * productIds.length);
  const items = Array.from({ length: itemsPerOrder }, (_, offset) => ({
    productId: productIds[(first + offset) % productIds.length]!,
    quantity: 1,
  }));
  return {
    items,
    shippingAddress: { recipient: "Bench Customer", line1: "1 Load Street", city: "Testville", postalCode: "12345", countryCode: "DE" },
    paymentToken: "tok_visa",
  };
}

interface Phase {
  placed: number;
  placeMs: number[];
  checkoutMs: number[];
  confirmed: number;
  cancelled: Map<string, number>;
  placeErrors: number;
  timedOut: number;
  firstError?: unknown;
  elapsedMs: number;
}

interface Load {
  api: JsonClient;
  shop: Shop;
  outcomes: OrderOutcomes;
  stack: RunningStack;
  interrupted: () => boolean;
}

/** Runs `concurrency` customers, each checking out again as soon as its last order settled. */
async function runPhase(load: Load, limit: { durationMs: number } | { orders: number }): Promise<Phase> {
  const phase: Phase = {
    placed: 0,
    placeMs: [],
    checkoutMs: [],
    confirmed: 0,
    cancelled: new Map(),
    placeErrors: 0,
    timedOut: 0,
    elapsedMs: 0,
  };
  const start = performance.now();
  const keepGoing = () => {
    if (load.interrupted() || load.stack.unexpectedExit()) return false;
    return "orders" in limit ? phase.placed < limit.orders : performance.now() < start + limit.durationMs;
  };
  const customer = async (index: number) => {
    const headers = { authorization: `Bearer ${load.shop.customerTokens[index]}` };
    while (keepGoing()) {
      phase.placed++;
      const began = performance.now();
      let orderId: string;
      try {
        const { order } = await load.api.request<{ order: { id: string } }>("POST", "/v1/orders", {
          headers: { ...headers, "idempotency-key": randomUUID() },
          body: orderBody(load.shop.productIds),
        });
        orderId = order.id;
        phase.placeMs.push(performance.now() - began);
      } catch (err) {
        phase.placeErrors++;
        phase.firstError ??= err;
        continue;
      }
      const outcome = await load.outcomes.wait(orderId, config.BENCH_CONFIRM_TIMEOUT_MS);
      if (outcome.kind === "confirmed") {
        phase.confirmed++;
        phase.checkoutMs.push(outcome.at - began);
      } else if (outcome.kind === "cancelled") {
        phase.cancelled.set(outcome.reason, (phase.cancelled.get(outcome.reason) ?? 0) + 1);
      } else {
        phase.timedOut++;
      }
    }
  };
  await Promise.all(Array.from({ length: config.BENCH_CONCURRENCY }, (_, index) => customer(index)));
  phase.elapsedMs = performance.now() - start;
  return phase;
}

type WorkCounts = Record<ShopContext, { transactions: number; events: number }>;

/**
 * Transactions committed in each service's database, read-only ones included (pg_stat_database,
 * which backends publish with up to a second's delay), and events each service published
 * (messages in its stream).
 */
async function countWork(stack: RunningStack, nc: NatsConnection): Promise<WorkCounts> {
  const urls = Object.fromEntries(contexts.map((context) => [context, new URL(stack.system.databaseUrl(context))])) as Record<
    ShopContext,
    URL
  >;
  const admin = new URL(urls.orders);
  admin.pathname = "/postgres";
  const client = new pg.Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    const { rows } = await client.query<{ datname: string; transactions: string }>(
      "SELECT datname, xact_commit AS transactions FROM pg_stat_database WHERE datname = ANY($1)",
      [contexts.map((context) => urls[context].pathname.slice(1))],
    );
    const jsm = await nc.jetstreamManager();
    const streamMessages = async (context: ShopContext) =>
      (await jsm.streams.info(streamName(context)).catch(() => undefined))?.state.messages ?? 0;
    const entries = await Promise.all(
      contexts.map(async (context) => {
        const transactions = Number(rows.find((row) => row.datname === urls[context].pathname.slice(1))?.transactions ?? 0);
        return [context, { transactions, events: await streamMessages(context) }] as const;
      }),
    );
    return Object.fromEntries(entries) as WorkCounts;
  } finally {
    await client.end();
  }
}

function formatWorkPerOrder(before: WorkCounts, after: WorkCounts, orders: number): string {
  const per = (n: number) => (n / orders).toFixed(1);
  const rows = contexts.map((context) => [
    context,
    per(after[context].transactions - before[context].transactions),
    per(after[context].events - before[context].events),
  ]);
  const total = (field: "transactions" | "events") =>
    contexts.reduce((sum, context) => sum + after[context][field] - before[context][field], 0);
  return formatTable(
    ["service", "db transactions per order", "events published per order"],
    [...rows, ["total", per(total("transactions")), per(total("events"))]],
  );
}

const errorsOf = (phase: Phase) => phase.placeErrors + phase.timedOut + [...phase.cancelled.values()].reduce((a, b) => a + b, 0);

function report(phase: Phase, warmup: Phase, cpu: { measured: CpuWindow; idle: CpuWindow }, work: string): void {
  const ordersPerSecond = (phase.confirmed * 1000) / phase.elapsedMs;
  const place = summarize(phase.placeMs);
  const checkout = summarize(phase.checkoutMs);
  console.log();
  console.log(`measured ${(phase.elapsedMs / 1000).toFixed(1)} s: ${phase.placed} orders placed, ${phase.confirmed} CONFIRMED`);
  console.log(
    `errors: ${phase.placeErrors} PlaceOrder failures, ${[...phase.cancelled].map(([reason, n]) => `${n} CANCELLED ${reason}`).join(", ") || "0 CANCELLED"}, ` +
      `${phase.timedOut} not settled within ${config.BENCH_CONFIRM_TIMEOUT_MS} ms (warm-up: ${errorsOf(warmup)})`,
  );
  if (phase.firstError ?? warmup.firstError) console.log(`first PlaceOrder error: ${String(phase.firstError ?? warmup.firstError)}`);
  console.log();
  console.log(
    formatTable(
      ["latency (ms)", "count", "p50", "p90", "p99", "max"],
      [
        [
          "PlaceOrder (POST /v1/orders -> 200 PENDING)",
          place.count,
          formatMs(place.p50),
          formatMs(place.p90),
          formatMs(place.p99),
          formatMs(place.max),
        ],
        [
          "PlaceOrder -> CONFIRMED (end to end)",
          checkout.count,
          formatMs(checkout.p50),
          formatMs(checkout.p90),
          formatMs(checkout.p99),
          formatMs(checkout.max),
        ],
      ],
    ),
  );
  console.log();
  const met = (ok: boolean) => (ok ? "met" : "MISSED");
  console.log(
    `orders/s reaching CONFIRMED: ${ordersPerSecond.toFixed(1)}   (target ${targets.ordersPerSecond}: ${met(ordersPerSecond >= targets.ordersPerSecond)})`,
  );
  console.log(`end-to-end p99: ${formatMs(checkout.p99)} ms   (target < ${targets.p99Ms} ms: ${met(checkout.p99 < targets.p99Ms)})`);
  console.log();
  const { cores } = cpu.measured;
  console.log(
    `CPU during the measured phase (${cores} cores; machine busy ${cpu.measured.machineBusyPercent.toFixed(0)}% of all cores, whoever used them):`,
  );
  console.log(formatCpuTable(cpu.measured, "order", phase.confirmed, cpu.idle).table);
  const withoutLoadGenerator = (window: CpuWindow) => ({
    ...window,
    groups: window.groups.filter((group) => group.name !== loadGeneratorName),
  });
  const stack = formatCpuTable(withoutLoadGenerator(cpu.measured), "order", phase.confirmed, withoutLoadGenerator(cpu.idle));
  const ceiling = (cores * 100 - stack.idlePercentOfCore) / (stack.totalMsPerUnit / 10);
  console.log(
    `CPU-bound ceiling: each confirmed order cost the stack ${stack.totalMsPerUnit.toFixed(1)} ms of CPU on top of the ` +
      `${stack.idlePercentOfCore.toFixed(0)}% of a core it uses idle, so ${cores} cores given to it alone would confirm at most ~${Math.round(ceiling)} orders/s.`,
  );
  console.log(
    "Work per confirmed order (transactions include read-only ones and are approximate: PostgreSQL publishes its counters up to a second late):",
  );
  console.log(work);
  console.log();
  console.log(
    "CONFIRMED is timed when OrderConfirmed reaches this process over NATS: it lags the order's commit " +
      "only by the orders outbox relay (handed the events on commit, then one JetStream publish).",
  );
  console.log(
    `Everything shares ${cores} cores: 7 services, the gateway, NATS, PostgreSQL and this load generator, ` +
      "so what the stack achieves is bounded by the CPU it gets: see the CPU table and the machine line.",
  );
}

async function main(): Promise<number> {
  console.log(`${await describeMachine()} (before)`);
  let interrupted = false;
  // Customers stop, and the stack is stopped and its databases dropped as at a normal end.
  for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => (interrupted = true));
  const bringUpStarted = performance.now();
  const stack = await startStack({ logLevel: config.BENCH_LOG_LEVEL, execArgv: cpuProfileArgs });
  const api = createJsonClient(stack.gatewayUrl, config.BENCH_CONCURRENCY + 4);
  let nc: NatsConnection | undefined;
  try {
    console.log(
      `stack up in ${((performance.now() - bringUpStarted) / 1000).toFixed(1)} s: gateway ${stack.gatewayUrl}, private NATS ${stack.system.nats.url}, logs in ${stack.system.dir}, LOG_LEVEL=${config.BENCH_LOG_LEVEL}`,
    );
    nc = await connect({ servers: stack.system.nats.url, name: "bench-checkout" });
    const outcomes = new OrderOutcomes();
    watchOutcomes(nc, outcomes);
    const shop = await prepareShop(api);
    console.log(
      `${config.BENCH_CONCURRENCY} concurrent customers, ${config.BENCH_PRODUCTS} products, ` +
        `${itemsPerOrder} items per order, tok_visa; warm-up ${config.BENCH_WARMUP_MS} ms, then ` +
        (config.BENCH_ORDERS > 0 ? `${config.BENCH_ORDERS} measured orders` : `${config.BENCH_DURATION_MS} ms measured`),
    );
    const postgres = new PostgresBackends(
      "postgres (backends of the stack's databases)",
      contexts.map((context) => stack.system.databaseUrl(context)),
    );
    const cpuGroups = [
      ...stack.processes.map((p) => ({ name: p.name, pids: () => [p.pid] })),
      { name: "nats-server (private)", pids: () => [stack.system.nats.pid!] },
      postgres,
      { name: loadGeneratorName, pids: () => [process.pid] },
    ];
    const measureCpu = async <T>(during: () => Promise<T>): Promise<{ result: T; cpu: CpuWindow }> => {
      await postgres.refresh();
      const window = startCpuWindow(cpuGroups);
      const result = await during();
      await postgres.refresh();
      return { result, cpu: window.finish() };
    };
    // What the stack spends with no orders at all (pollers, timers), so per-order costs can leave it out.
    const { cpu: idle } = await measureCpu(() => new Promise((resolve) => setTimeout(resolve, config.BENCH_IDLE_MS)));
    const load: Load = { api, shop, outcomes, stack, interrupted: () => interrupted };
    const warmup = await runPhase(load, { durationMs: config.BENCH_WARMUP_MS });
    const workBefore = await countWork(stack, nc);
    const { result: measured, cpu } = await measureCpu(() =>
      runPhase(load, config.BENCH_ORDERS > 0 ? { orders: config.BENCH_ORDERS } : { durationMs: config.BENCH_DURATION_MS }),
    );
    const work = formatWorkPerOrder(workBefore, await countWork(stack, nc), measured.confirmed);
    report(measured, warmup, { measured: cpu, idle }, work);
    const exit = stack.unexpectedExit();
    if (exit) console.error(`the run is void: ${exit}`);
    console.log(`${await describeMachine()} (after)`);
    return exit || interrupted || errorsOf(measured) + errorsOf(warmup) > 0 ? 1 : 0;
  } finally {
    await nc?.close();
    api.close();
    await stack.stop();
  }
}

process.exitCode = await main();
