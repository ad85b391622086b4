/**
 * What the checkout's two payment calls cost: AuthorizePayment then CapturePayment for each new
 * order (tok_visa), the payments service in a process of its own on a scratch database and a
 * NATS server of its own, driven over gRPC by concurrent callers as the saga calls it. Printed:
 * orders/s, latency of the pair, CPU per order of the service, its PostgreSQL backends and NATS
 * (net of what they use idle), and the round trips to PostgreSQL the service made per order
 * (every statement, BEGIN and COMMIT included, the relay's too), counted in its process.
 *
 *   node --import tsx bench/payments.ts
 *   BENCH_CONCURRENCY=16 BENCH_WARMUP_MS=3000 BENCH_DURATION_MS=15000 node --import tsx bench/payments.ts   # the defaults
 *
 * It uses only what every version of payments has (its config, `buildPayments`, the runtime's
 * `startService`), so the same file measures an older checkout of the repository as well.
 */
import { type ChildProcess, fork } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { once } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { PaymentService, PaymentStatus } from "@shop/contracts/shop/payments/v1/payments_pb.js";
import {
  createServiceClient,
  defaultPostgresUrl,
  dropDatabase,
  ensureDatabase,
  env,
  loadConfig,
  migrateDatabase,
  startService,
} from "@shop/runtime";
import { credentialsEnv, waitFor } from "@shop/runtime/testing";
import pg from "pg";
import { loadPaymentsConfig } from "../services/payments/src/config.js";
import { buildPayments } from "../services/payments/src/server.js";
import { NatsServer } from "../tests/support/nats-server.js";
import { Cleanup } from "./lib/cleanup.js";
import { formatCpuTable, PostgresBackends, startCpuWindow } from "./lib/cpu.js";
import { runLoad } from "./lib/load.js";
import { describeMachine, formatMs, formatTable } from "./lib/report.js";

const config = loadConfig({
  BENCH_IDLE_MS: env.int(3_000, { min: 100 }),
  BENCH_WARMUP_MS: env.int(3_000, { min: 0 }),
  BENCH_DURATION_MS: env.int(15_000, { min: 100 }),
  BENCH_CONCURRENCY: env.int(16, { min: 1 }),
});

const serviceDir = path.resolve(import.meta.dirname, "../services/payments");

// ---------------------------------------------------------------- the service's process

type ParentMessage = { kind: "count" } | { kind: "stop" };
type ChildMessage = { kind: "ready"; address: string } | { kind: "count"; roundTrips: number; statements: number } | { kind: "stopped" };

/** The payments service as `main.ts` runs it, counting every query its connections send. */
async function serve(databaseUrl: string, natsUrl: string): Promise<void> {
  const send = (message: ChildMessage) => process.send!(message);
  let roundTrips = 0;
  let statements = 0;
  const query = pg.Client.prototype.query;
  pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
    roundTrips += 1;
    const text = typeof args[0] === "string" ? args[0] : (args[0] as { text?: string } | undefined)?.text;
    if (!/^\s*(BEGIN|COMMIT|ROLLBACK)\b/i.test(text ?? "")) statements += 1;
    return (query as (...a: unknown[]) => unknown).apply(this, args);
  } as typeof query;
  const service = await startService({
    context: "payments",
    serviceDir,
    config: loadPaymentsConfig({
      ...credentialsEnv("payments"),
      PAYMENTS_HOST: "127.0.0.1",
      PAYMENTS_PORT: "0",
      PAYMENTS_METRICS_PORT: "0",
      PAYMENTS_DATABASE_URL: databaseUrl,
      NATS_URL: natsUrl,
      LOG_LEVEL: "warn",
    }),
    start: buildPayments,
  });
  process.on("message", (message: ParentMessage) => {
    if (message.kind === "count") {
      send({ kind: "count", roundTrips, statements });
      return;
    }
    void service.stop().then(() => {
      send({ kind: "stopped" });
      process.disconnect();
    });
  });
  process.once("disconnect", () => process.exit(0));
  send({ kind: "ready", address: service.grpc.address });
}

class ServiceChild {
  private constructor(
    private readonly child: ChildProcess,
    readonly address: string,
  ) {}

  get pid(): number {
    return this.child.pid!;
  }

  static async start(databaseUrl: string, natsUrl: string): Promise<ServiceChild> {
    const child = fork(fileURLToPath(import.meta.url), ["serve", databaseUrl, natsUrl]);
    const [ready] = (await once(child, "message")) as [ChildMessage];
    if (ready.kind !== "ready") throw new Error(`the payments process answered ${ready.kind} before it was ready`);
    return new ServiceChild(child, ready.address);
  }

  async counts(): Promise<{ roundTrips: number; statements: number }> {
    const answer = once(this.child, "message") as Promise<[ChildMessage]>;
    this.child.send({ kind: "count" } satisfies ParentMessage);
    const [message] = await answer;
    if (message.kind !== "count") throw new Error(`expected counts, got ${message.kind}`);
    return message;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = once(this.child, "exit");
    this.child.send({ kind: "stop" } satisfies ParentMessage);
    await exited;
  }
}

// ---------------------------------------------------------------- measurement

async function main(): Promise<void> {
  console.log(`${await describeMachine()} (before)`);
  const cleanup = new Cleanup();
  try {
    const dir = await mkdtemp(path.join(tmpdir(), "shop-bench-payments-"));
    cleanup.add("the temporary folder", () => rm(dir, { recursive: true, force: true }));
    const nats = await NatsServer.start({ dir });
    cleanup.add("the NATS server", () => nats.stop());
    const url = new URL(process.env.POSTGRES_URL ?? defaultPostgresUrl);
    url.pathname = `/shop_bench_payments_${randomBytes(5).toString("hex")}`;
    const databaseUrl = url.toString();
    await ensureDatabase(databaseUrl);
    cleanup.add("the scratch database", () => dropDatabase(databaseUrl));
    await migrateDatabase(serviceDir, databaseUrl);
    const service = await ServiceChild.start(databaseUrl, nats.url);
    cleanup.add("the payments process", () => service.stop());
    const client = createServiceClient(PaymentService, { address: service.address, defaultTimeoutMs: 10_000 });
    cleanup.add("the gRPC client", async () => client.close());

    const postgres = new PostgresBackends("postgres (backends of the scratch database)", [databaseUrl]);
    const groups = [
      { name: "payments", pids: () => [service.pid] },
      postgres,
      { name: "nats-server (private)", pids: () => (nats.pid === undefined ? [] : [nats.pid]) },
      { name: "load generator (this process)", pids: () => [process.pid] },
    ];

    let failures = 0;
    const order = async () => {
      const orderId = randomUUID();
      const { payment } = await client.authorizePayment({
        orderId,
        userId: randomUUID(),
        amount: { currencyCode: "USD", amountMinor: 2598n },
        paymentToken: "tok_visa",
      });
      const captured = await client.capturePayment({ orderId });
      if (payment?.status !== PaymentStatus.AUTHORIZED || captured.payment?.status !== PaymentStatus.CAPTURED) failures += 1;
    };

    await postgres.refresh();
    const idle = startCpuWindow(groups);
    await new Promise((resolve) => setTimeout(resolve, config.BENCH_IDLE_MS));
    const idleWindow = idle.finish();

    // Connections are made during the warm-up; the backends are asked for again at its end.
    let window: ReturnType<typeof startCpuWindow> | undefined;
    let countsBefore = { roundTrips: 0, statements: 0 };
    const measureStart = async () => {
      await postgres.refresh();
      countsBefore = await service.counts();
      window = startCpuWindow(groups);
    };
    let starting: Promise<void> | undefined;
    const result = await runLoad(order, {
      concurrency: config.BENCH_CONCURRENCY,
      warmupMs: config.BENCH_WARMUP_MS,
      durationMs: config.BENCH_DURATION_MS,
      onMeasureStart: () => {
        starting = measureStart();
      },
    });
    await starting;
    const cpu = window!.finish();
    // The relay marks the last orders' events sent a moment after their capture answered.
    const inspect = new pg.Client({ connectionString: databaseUrl });
    await inspect.connect();
    try {
      await waitFor(
        async () => (await inspect.query<{ n: number }>("SELECT count(*)::int AS n FROM outbox_events WHERE sent_at IS NULL")).rows[0]!.n,
        (unsent) => unsent === 0,
        { what: "the outbox to be published" },
      );
    } finally {
      await inspect.end();
    }
    const countsAfter = await service.counts();
    const orders = result.calls;

    console.log(
      `payments: AuthorizePayment then CapturePayment per order, ${config.BENCH_CONCURRENCY} concurrent callers; ` +
        `idle ${config.BENCH_IDLE_MS} ms, warm-up ${config.BENCH_WARMUP_MS} ms, then ${config.BENCH_DURATION_MS} ms measured\n`,
    );
    console.log(
      formatTable(
        ["orders", "orders/s", "p50 ms", "p90 ms", "p99 ms", "errors"],
        [
          [
            orders,
            result.callsPerSecond.toFixed(1),
            formatMs(result.latencyMs.p50),
            formatMs(result.latencyMs.p90),
            formatMs(result.latencyMs.p99),
            result.errors + failures,
          ],
        ],
      ),
    );
    const cost = formatCpuTable(cpu, "order", orders, idleWindow);
    console.log(
      `\nCPU during the measured phase (machine busy ${cpu.machineBusyPercent.toFixed(0)}% of ${cpu.cores} cores):\n${cost.table}`,
    );
    const perOrder = (n: number) => (n / orders).toFixed(2);
    console.log(
      `\n${formatTable(
        ["PostgreSQL, per order", "round trips", "statements (without BEGIN/COMMIT)"],
        [
          [
            "payments service (handlers and relay)",
            perOrder(countsAfter.roundTrips - countsBefore.roundTrips),
            perOrder(countsAfter.statements - countsBefore.statements),
          ],
        ],
      )}`,
    );
    if (result.firstError) console.log(`first error: ${String(result.firstError)}`);
    if (result.errors + failures > 0) process.exitCode = 1;
  } finally {
    await cleanup.run();
  }
  console.log(`${await describeMachine()} (after)`);
}

if (process.argv[2] === "serve") await serve(process.argv[3]!, process.argv[4]!);
else await main();
