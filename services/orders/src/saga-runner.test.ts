import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import net from "node:net";
import path from "node:path";
import { OrderStatus } from "@shop/contracts/shop/orders/v1/orders_pb.js";
import { PaymentStatus } from "@shop/contracts/shop/payments/v1/payments_pb.js";
import { createLogger, createSqlDatabase, metricsRegistry, type SqlDatabase } from "@shop/runtime";
import { callerHeaders, createTestDatabase, credentialsEnv, outboxEvents, type TestDatabase, waitFor } from "@shop/runtime/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OrderRepository } from "./db/orders.js";
import { LeaseLostError, SagaStore } from "./db/sagas.js";
import type { Order } from "./domain/order.js";
import { orderEvents } from "./events/order-events.js";
import type { SagaAction, StepOutcome } from "./saga/checkout-saga.js";
import { SagaRunner } from "./saga/saga-runner.js";
import { admin, type CheckoutStack, type OrdersReplica, startCheckoutStack } from "./testing/checkout-stack.js";
import { type ExecutedAction, StepGate } from "./testing/step-gate.js";

const serviceDir = path.resolve(import.meta.dirname, "..");
const address = {
  recipient: "Alan Turing",
  line1: "2 Bletchley Park",
  line2: "",
  city: "Milton Keynes",
  postalCode: "MK3 6EB",
  countryCode: "GB",
};

let stack: CheckoutStack;
let db: SqlDatabase;
const gate = new StepGate();
const replicas: OrdersReplica[] = [];

interface SagaRow {
  phase: string;
  step: string | null;
  compensations: string[];
  reason: string | null;
  attempts: number;
  lease_owner: string | null;
  lease_until: Date | null;
}

async function sagaRow(sql: SqlDatabase, orderId: string): Promise<SagaRow> {
  const [row] = await sql.query<SagaRow>(
    "SELECT phase, step, compensations, reason, attempts, lease_owner, lease_until FROM checkout_sagas WHERE order_id = $1::uuid",
    [orderId],
  );
  if (!row) throw new Error(`no saga for order ${orderId}`);
  return row;
}

async function statusOf(orderId: string): Promise<OrderStatus> {
  return (await stack.orders.getOrder({ orderId }, admin)).order!.status;
}

async function confirmedVia(replica: OrdersReplica, orderId: string) {
  return waitFor(
    async () => (await replica.client.getOrder({ orderId }, admin)).order!,
    (order) => order.status !== OrderStatus.PENDING,
    { timeoutMs: 20_000, what: `order ${orderId} to end` },
  );
}

async function stopAll(): Promise<void> {
  for (const replica of replicas.splice(0)) await replica.stop();
}

beforeAll(async () => {
  // Replicas stop at once when told to, interrupting the step in hand.
  stack = await startCheckoutStack({ overrides: { wrapExecutor: gate.wrap("A") }, env: { SHUTDOWN_GRACE_MS: "0", SAGA_POLL_MS: "20" } });
  replicas.push(stack.firstReplica);
  db = createSqlDatabase(stack.ordersDatabaseUrl);
});

afterAll(async () => {
  await db?.close();
  await stack?.stop();
});

describe("saga leases", () => {
  let scratch: TestDatabase;
  let scratchDb: SqlDatabase;

  beforeAll(async () => {
    scratch = await createTestDatabase("orders", serviceDir);
    scratchDb = createSqlDatabase(scratch.url);
  });

  afterAll(async () => {
    await scratchDb?.close();
    await scratch?.drop();
  });

  it("lets one runner hold a saga at a time, and another take it only once the lease expired", async () => {
    const { order } = await new OrderRepository(scratchDb, orderEvents).place(
      {
        id: randomUUID(),
        userId: randomUUID(),
        items: [{ productId: randomUUID(), quantity: 1 }],
        shippingAddress: address,
        paymentToken: "tok_visa",
      },
      { correlationId: randomUUID() },
    );
    const sagas = new SagaStore(scratchDb, orderEvents);
    const [first, second] = await Promise.all([sagas.claim("runner-1", 300, order.id), sagas.claim("runner-2", 300, order.id)]);
    expect([first, second].filter(Boolean)).toHaveLength(1);
    const [holder, other] = first ? ["runner-1", "runner-2"] : ["runner-2", "runner-1"];
    const claimed = (first ?? second)!;

    expect(await sagas.claimDue(other, 300, 10)).toEqual([]);
    expect(await sagas.renew(other, 300, order.id)).toBe(false);
    const next = { ...claimed.state, compensations: [] };
    await expect(sagas.record(other, order, claimed.state, next, [])).rejects.toBeInstanceOf(LeaseLostError);
    expect(await sagas.renew(holder, 300, order.id)).toBe(true);

    const takenOver = await waitFor(
      () => sagas.claim(other, 60_000, order.id),
      (saga) => saga !== undefined,
      {
        timeoutMs: 5_000,
        what: "the expired lease to be claimable",
      },
    );
    expect(takenOver!.state).toEqual(claimed.state);
    await expect(sagas.record(holder, order, claimed.state, next, [])).rejects.toBeInstanceOf(LeaseLostError);
    await expect(sagas.retryLater(holder, order.id, 1, 10)).rejects.toBeInstanceOf(LeaseLostError);
  });

  it("retries a failing compensation with backoff between claims, counts each failure, and records the end with its events", async () => {
    const metric = async (name: string, labels: Record<string, string>) =>
      (await metricsRegistry.getSingleMetric(name)!.get()).values.find((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l))
        ?.value ?? 0;
    const failuresBefore = await metric("saga_compensation_failures_total", { compensation: "RELEASE_STOCK" });
    const cancelledBefore = await metric("saga_outcomes_total", { result: "cancelled", reason: "INSUFFICIENT_STOCK" });

    const orders = new OrderRepository(scratchDb, orderEvents);
    const { order } = await orders.place(
      {
        id: randomUUID(),
        userId: randomUUID(),
        items: [{ productId: randomUUID(), quantity: 3 }],
        shippingAddress: address,
        paymentToken: "tok_visa",
      },
      { correlationId: "checkout-correlation" },
    );
    const calls: SagaAction[] = [];
    let releaseFailures = 0;
    const scripted = async (action: SagaAction): Promise<StepOutcome> => {
      calls.push(action);
      switch (action) {
        case "PRICE": {
          const unitPrice = { currency: "USD", amountMinor: 700n };
          const line = { ...order.items[0]!, name: "Kettle", unitPrice, lineTotal: { currency: "USD", amountMinor: 2100n } };
          return { kind: "succeeded", priced: { lines: [line], total: line.lineTotal } };
        }
        case "RESERVE":
          return { kind: "rejected", reason: "INSUFFICIENT_STOCK", detail: "only 2 left" };
        case "RELEASE_STOCK":
          if (releaseFailures < 3) {
            releaseFailures += 1;
            return { kind: "exhausted", detail: "inventory unavailable" };
          }
          return { kind: "succeeded" };
        default:
          return { kind: "succeeded" };
      }
    };
    const runner = new SagaRunner(
      { sagas: new SagaStore(scratchDb, orderEvents), orders, executor: { execute: scripted }, logger: createLogger("orders", "silent") },
      { leaseMs: 2_000, concurrency: 4, pollIntervalMs: 10, backoffBaseMs: 5, backoffMaxMs: 20, recordAttempts: 3 },
    );
    runner.start();
    try {
      const ended = await waitFor(
        () => orders.get(order.id),
        (o) => o?.status === "CANCELLED",
        { what: "the order to be cancelled" },
      );
      expect(ended).toMatchObject({ cancellationReason: "INSUFFICIENT_STOCK", total: { currency: "USD", amountMinor: 2100n } });
    } finally {
      await runner.stop();
    }
    expect(calls).toEqual([
      "PRICE",
      "AUTHORIZE",
      "RESERVE",
      "RELEASE_STOCK",
      "RELEASE_STOCK",
      "RELEASE_STOCK",
      "RELEASE_STOCK",
      "VOID_PAYMENT",
    ]);
    expect(await sagaRow(scratchDb, order.id)).toMatchObject({
      phase: "CANCELLED",
      reason: "INSUFFICIENT_STOCK",
      attempts: 0,
      lease_owner: null,
    });
    expect(await metric("saga_compensation_failures_total", { compensation: "RELEASE_STOCK" })).toBe(failuresBefore + 3);
    expect(await metric("saga_outcomes_total", { result: "cancelled", reason: "INSUFFICIENT_STOCK" })).toBe(cancelledBefore + 1);

    const events = (await outboxEvents(scratchDb)).filter((e) => e.payload.orderId === order.id);
    expect(events.map((e) => e.subject)).toEqual(["shop.orders.order_placed", "shop.orders.order_priced", "shop.orders.order_cancelled"]);
    expect(events[2]!.payload).toMatchObject({ reason: "INSUFFICIENT_STOCK", userId: order.userId });
    const [{ headers }] = await scratchDb.query<{ headers: Record<string, string> }>(
      `SELECT headers FROM outbox_events WHERE id = $1::uuid`,
      [events[2]!.id],
    );
    expect(headers["x-request-id"]).toBe("checkout-correlation");
  });
});

describe("a step whose outcome cannot be recorded", () => {
  let scratch: TestDatabase;
  let scratchDb: SqlDatabase;

  beforeAll(async () => {
    scratch = await createTestDatabase("orders", serviceDir);
    scratchDb = createSqlDatabase(scratch.url);
  });

  afterAll(async () => {
    await scratchDb?.close();
    await scratch?.drop();
  });

  it("is tried a bounded number of times with backoff, then counts as failed: the order is cancelled with a reason, never left PENDING", async () => {
    const orders = new OrderRepository(scratchDb, orderEvents);
    const { order } = await orders.place(
      {
        id: randomUUID(),
        userId: randomUUID(),
        items: [{ productId: randomUUID(), quantity: 2 }],
        shippingAddress: address,
        paymentToken: "tok_visa",
      },
      { correlationId: randomUUID() },
    );
    const calls: SagaAction[] = [];
    const retries: { attempts: number; delayMs: number }[] = [];
    // A price PostgreSQL cannot store: what a total past int64 did before pricing refused it.
    const unstorable = { currency: "USD", amountMinor: 2n ** 63n };
    const sagas = new SagaStore(scratchDb, orderEvents);
    const retryLater = sagas.retryLater.bind(sagas);
    sagas.retryLater = (owner, orderId, attempts, delayMs) => {
      retries.push({ attempts, delayMs });
      return retryLater(owner, orderId, attempts, delayMs);
    };
    const scripted = async (action: SagaAction): Promise<StepOutcome> => {
      calls.push(action);
      if (action !== "PRICE") return { kind: "succeeded" };
      const line = { ...order.items[0]!, name: "Gold bar", unitPrice: unstorable, lineTotal: unstorable };
      return { kind: "succeeded", priced: { lines: [line], total: unstorable } };
    };
    const runner = new SagaRunner(
      { sagas, orders, executor: { execute: scripted }, logger: createLogger("orders", "silent") },
      { leaseMs: 2_000, concurrency: 4, pollIntervalMs: 10, backoffBaseMs: 5, backoffMaxMs: 20, recordAttempts: 3 },
    );
    runner.start();
    try {
      const ended = await waitFor(
        () => orders.get(order.id),
        (o) => o?.status !== "PENDING",
        { what: "the order to end" },
      );
      expect(ended).toMatchObject({ status: "CANCELLED", cancellationReason: "PRODUCT_UNAVAILABLE", total: null });
    } finally {
      await runner.stop();
    }
    expect(calls).toEqual(["PRICE", "PRICE", "PRICE"]);
    expect(retries.map((r) => r.attempts)).toEqual([1, 2]);
    expect(await sagaRow(scratchDb, order.id)).toMatchObject({ phase: "CANCELLED", reason: "PRODUCT_UNAVAILABLE", lease_owner: null });
  });
});

describe("a saga placed with its order", () => {
  let scratch: TestDatabase;
  let scratchDb: SqlDatabase;

  beforeAll(async () => {
    scratch = await createTestDatabase("orders", serviceDir);
    scratchDb = createSqlDatabase(scratch.url);
  });

  afterAll(async () => {
    await scratchDb?.close();
    await scratch?.drop();
  });

  it("runs at once under the lease it was inserted with, without a claim or a read of the order; without a free slot it waits for a poll", async () => {
    const orders = new OrderRepository(scratchDb, orderEvents);
    const sagas = new SagaStore(scratchDb, orderEvents);
    const counted = { claims: 0, reads: 0 };
    const claim = sagas.claim.bind(sagas);
    sagas.claim = (...args) => {
      counted.claims += 1;
      return claim(...args);
    };
    // The runner's first poll holds its free slots while it looks; the test places orders after it.
    let firstPollDone!: () => void;
    const polled = new Promise<void>((resolve) => (firstPollDone = resolve));
    const claimDue = sagas.claimDue.bind(sagas);
    sagas.claimDue = async (...args) => {
      try {
        return await claimDue(...args);
      } finally {
        firstPollDone();
      }
    };
    const get = orders.get.bind(orders);
    orders.get = (id) => {
      counted.reads += 1;
      return get(id);
    };
    const price = async (action: SagaAction, order: Order): Promise<StepOutcome> => {
      if (action !== "PRICE") return { kind: "succeeded" };
      const line = {
        ...order.items[0]!,
        name: "Kettle",
        unitPrice: { currency: "USD", amountMinor: 700n },
        lineTotal: { currency: "USD", amountMinor: 700n },
      };
      return { kind: "succeeded", priced: { lines: [line], total: line.lineTotal } };
    };
    // One slot, and no poll during the test: only placeAndRun can start a saga.
    const runner = new SagaRunner(
      { sagas, orders, executor: { execute: price }, logger: createLogger("orders", "silent") },
      { leaseMs: 60_000, concurrency: 1, pollIntervalMs: 60_000, backoffBaseMs: 5, backoffMaxMs: 20, recordAttempts: 3 },
    );
    const newOrder = () => ({
      id: randomUUID(),
      userId: randomUUID(),
      items: [{ productId: randomUUID(), quantity: 1 }],
      shippingAddress: address,
      paymentToken: "tok_visa",
    });
    const origin = { correlationId: randomUUID() };
    runner.start();
    try {
      await polled;
      // The poll gives its slots back in the continuation of that call: let it run first.
      await new Promise(setImmediate);
      const { order } = await runner.placeAndRun((lease) => orders.place(newOrder(), origin, lease), origin);
      await waitFor(
        () => get(order.id),
        (o) => o?.status === "CONFIRMED",
        { what: "the placed order to be confirmed" },
      );
      expect(counted).toEqual({ claims: 0, reads: 0 });

      // While the only slot is busy, the next saga is placed free, for whoever polls.
      const busy = runner.placeAndRun((lease) => orders.place(newOrder(), origin, lease), origin);
      const { order: waiting } = await runner.placeAndRun((lease) => orders.place(newOrder(), origin, lease), origin);
      await busy;
      expect(await sagaRow(scratchDb, waiting.id)).toMatchObject({ phase: "FORWARD", step: "PRICE", lease_owner: null });
    } finally {
      await runner.stop();
    }
  });
});

describe("several orders replicas", () => {
  it("never run the same saga step twice or two steps of one saga at once", { timeout: 120_000 }, async () => {
    const second = await stack.startOrdersReplica({ overrides: { wrapExecutor: gate.wrap("B") } });
    replicas.push(second);
    const product = await stack.addProduct({ priceMinor: 250n, stock: 1_000 });
    const orderIds = await Promise.all(
      Array.from({ length: 24 }, async (_, i) => {
        const replica = replicas[i % 2]!;
        const { order } = await replica.client.placeOrder(
          { items: [{ productId: product, quantity: 1 }], shippingAddress: address, paymentToken: "tok_visa" },
          { headers: callerHeaders() },
        );
        return order!.id;
      }),
    );
    // Two dozen sagas at once on a small machine: give them time, but still a deadline.
    for (const orderId of orderIds) {
      const status = await waitFor(
        () => statusOf(orderId),
        (s) => s !== OrderStatus.PENDING,
        { timeoutMs: 60_000, what: `order ${orderId} to end` },
      );
      expect(status).toBe(OrderStatus.CONFIRMED);
    }

    for (const orderId of orderIds) {
      const actions = gate.actionsOf(orderId);
      expect(actions.map((a) => a.action)).toEqual(["PRICE", "AUTHORIZE", "RESERVE", "SHIP", "CAPTURE", "COMMIT"]);
      // One after the other, whichever replica ran each.
      for (let i = 1; i < actions.length; i++) expect(actions[i]!.startedAt).toBeGreaterThanOrEqual(actions[i - 1]!.endedAt!);
    }
    expect((await stack.inventory.getStock({ productId: product })).stock).toMatchObject({ committed: 24, reserved: 0 });
  });

  it("resumes a saga whose replica stopped after AUTHORIZE on another replica, without redoing AUTHORIZE", async () => {
    await replicas.pop()!.stop();
    const product = await stack.addProduct({ priceMinor: 4_000n, stock: 3 });
    const held = gate.hold("RESERVE", (order) => order.shippingAddress.recipient === "Interrupted");
    const { order } = await stack.orders.placeOrder(
      { items: [{ productId: product, quantity: 2 }], shippingAddress: { ...address, recipient: "Interrupted" }, paymentToken: "tok_visa" },
      { headers: callerHeaders() },
    );
    await held.reached;
    expect((await stack.payments.getPayment({ orderId: order!.id })).payment!.status).toBe(PaymentStatus.AUTHORIZED);

    await stopAll();
    const successor = await stack.startOrdersReplica({ overrides: { wrapExecutor: gate.wrap("C") } });
    replicas.push(successor);
    expect((await confirmedVia(successor, order!.id)).status).toBe(OrderStatus.CONFIRMED);

    const actions = gate.actionsOf(order!.id).map((a) => `${a.runner}:${a.action}:${a.outcome}`);
    expect(actions).toEqual([
      "A:PRICE:succeeded",
      "A:AUTHORIZE:succeeded",
      "A:RESERVE:interrupted",
      "C:RESERVE:succeeded",
      "C:SHIP:succeeded",
      "C:CAPTURE:succeeded",
      "C:COMMIT:succeeded",
    ]);
    expect((await stack.payments.getPayment({ orderId: order!.id })).payment).toMatchObject({
      status: PaymentStatus.CAPTURED,
      amount: { amountMinor: 8_000n },
    });
    expect((await stack.inventory.getStock({ productId: product })).stock).toMatchObject({ available: 1, reserved: 0, committed: 2 });
  });

  it("takes over the sagas of a killed replica once its lease expires, and ends them consistently", { timeout: 60_000 }, async () => {
    await stopAll();
    const product = await stack.addProduct({ priceMinor: 1_000n, stock: 5 });
    const { order } = await new OrderRepository(db, orderEvents).place(
      {
        id: randomUUID(),
        userId: randomUUID(),
        items: [{ productId: product, quantity: 1 }],
        shippingAddress: address,
        paymentToken: "tok_visa",
      },
      { correlationId: randomUUID() },
    );

    // An inventory that accepts connections and never answers keeps the doomed replica inside RESERVE.
    let reachReserve!: () => void;
    const reachedReserve = new Promise<void>((resolve) => (reachReserve = resolve));
    const silentInventory = net.createServer((socket) => {
      reachReserve();
      socket.on("error", () => undefined);
    });
    await new Promise<void>((resolve) => silentInventory.listen(0, "127.0.0.1", resolve));
    const doomed = spawn(process.execPath, ["--import", "tsx", path.join(serviceDir, "src/main.ts")], {
      cwd: serviceDir,
      stdio: "ignore",
      env: {
        ...process.env,
        ...credentialsEnv("orders"),
        LOG_LEVEL: "silent",
        ORDERS_HOST: "127.0.0.1",
        ORDERS_PORT: "0",
        ORDERS_METRICS_PORT: "0",
        ORDERS_DATABASE_URL: stack.ordersDatabaseUrl,
        ORDER_HISTORY_CONSUMER: stack.historyConsumer,
        CATALOG_ADDR: stack.addresses.catalog,
        PAYMENTS_ADDR: stack.addresses.payments,
        SHIPPING_ADDR: stack.addresses.shipping,
        INVENTORY_ADDR: `127.0.0.1:${(silentInventory.address() as net.AddressInfo).port}`,
        DOWNSTREAM_TIMEOUT_MS: "30000",
        SAGA_LEASE_MS: "1500",
      },
    });
    try {
      await reachedReserve;
      const saga = await sagaRow(db, order.id);
      expect(saga).toMatchObject({ phase: "FORWARD", step: "RESERVE", compensations: ["VOID_PAYMENT", "RELEASE_STOCK"] });
      expect(saga.lease_owner).toBeTruthy();
      doomed.kill("SIGKILL");
      await new Promise((resolve) => doomed.once("exit", resolve));
    } finally {
      doomed.kill("SIGKILL");
      silentInventory.close();
    }
    const { lease_until: leaseUntil } = await sagaRow(db, order.id);

    const successor = await stack.startOrdersReplica({ overrides: { wrapExecutor: gate.wrap("D") } });
    replicas.push(successor);
    expect((await confirmedVia(successor, order.id)).status).toBe(OrderStatus.CONFIRMED);

    const resumed: ExecutedAction[] = gate.actionsOf(order.id);
    expect(resumed.map((a) => `${a.runner}:${a.action}`)).toEqual(["D:RESERVE", "D:SHIP", "D:CAPTURE", "D:COMMIT"]);
    expect(performance.timeOrigin + resumed[0]!.startedAt).toBeGreaterThanOrEqual(leaseUntil!.getTime() - 50);
    expect((await stack.payments.getPayment({ orderId: order.id })).payment!.status).toBe(PaymentStatus.CAPTURED);
    expect((await stack.inventory.getStock({ productId: product })).stock).toMatchObject({ available: 4, reserved: 0, committed: 1 });
  });
});
