import { randomUUID } from "node:crypto";
import { setTimeout as delay } from "node:timers/promises";
import { InventoryService } from "@shop/contracts/shop/inventory/v1/inventory_pb.js";
import { OrderService } from "@shop/contracts/shop/orders/v1/orders_pb.js";
import { ConnectError, createServiceClient, demoProducts, isTransient, metadataKeys } from "@shop/runtime";
import { adminHeaders, callerHeaders, serviceCredential, waitFor } from "@shop/runtime/testing";
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from "vitest";
import { flakyFailuresBeforeApproval } from "../../services/payments/src/domain/provider.js";
import { type CheckoutState, checkoutViolations, eventPublishers, readCheckoutState } from "../support/checkout-invariants.js";
import { ServiceDatabases } from "../support/databases.js";
import { type ConsumerRef, consumerBacklog, streamMessageCounts } from "../support/jetstream.js";
import { type RunningSystem, startSystem } from "../support/system.js";

/**
 * Checkouts under `kill -9`: waves of concurrent orders mixing approved, flaky and declined
 * cards and orders the stock cannot serve; during each wave one piece of the system dies
 * mid-way (orders, then payments, then inventory, then NATS for a while) and comes back.
 * Afterwards every order is final and the checkout and event invariants (docs/architecture.md) hold on the
 * services' own databases.
 */

const orderHistoryConsumer = "chaos-order-history";
const consumers: ConsumerRef[] = [
  { context: "orders", consumer: orderHistoryConsumer },
  ...eventPublishers.map((context) => ({ context, consumer: "notifications" })),
];

const productBySku = (sku: string) => demoProducts.find((p) => p.sku === sku)!.id;
const mug = productBySku("MUG-001");
const tee = productBySku("TEE-002");
const bag = productBySku("BAG-003");
const notebook = productBySku("NOTE-004");
const pen = productBySku("PEN-005");
const lamp = productBySku("LAMP-006");

/** Units set before the first order: plenty, except lamps (contended) and pens (never enough). */
const stockLevels: Record<string, number> = { [mug]: 1000, [tee]: 500, [bag]: 500, [notebook]: 500, [pen]: 3, [lamp]: 30 };

/** How a checkout ends: `CONFIRMED` or `CANCELLED <reason>`. */
type Outcome = string;

interface OrderKind {
  paymentToken: string;
  items: { productId: string; quantity: number }[];
  /** Outcomes when no downstream service is down during the checkout. */
  outcomes: Outcome[];
}

const orderKinds: Record<string, OrderKind> = {
  approved: { paymentToken: "tok_visa", items: [{ productId: mug, quantity: 2 }], outcomes: ["CONFIRMED"] },
  flaky: {
    paymentToken: "tok_flaky",
    items: [
      { productId: tee, quantity: 1 },
      { productId: notebook, quantity: 1 },
    ],
    outcomes: ["CONFIRMED"],
  },
  declined: { paymentToken: "tok_decline", items: [{ productId: bag, quantity: 1 }], outcomes: ["CANCELLED PAYMENT_DECLINED"] },
  contended: {
    paymentToken: "tok_visa",
    items: [
      { productId: lamp, quantity: 1 },
      { productId: mug, quantity: 1 },
    ],
    outcomes: ["CONFIRMED", "CANCELLED INSUFFICIENT_STOCK"],
  },
  contendedFlaky: {
    paymentToken: "tok_flaky",
    items: [{ productId: lamp, quantity: 2 }],
    outcomes: ["CONFIRMED", "CANCELLED INSUFFICIENT_STOCK"],
  },
  outOfStock: {
    paymentToken: "tok_visa",
    items: [{ productId: pen, quantity: stockLevels[pen]! + 1 }],
    outcomes: ["CANCELLED INSUFFICIENT_STOCK"],
  },
};

const ordersPerKindAndWave = 4;

const transientAnswersPerWave =
  flakyFailuresBeforeApproval * ordersPerKindAndWave * Object.values(orderKinds).filter((kind) => kind.paymentToken === "tok_flaky").length;

const serviceEnv = {
  SEED_DEMO_DATA: "true",
  ORDER_HISTORY_CONSUMER: orderHistoryConsumer,
  // A killed orders' sagas are taken over one lease later.
  SAGA_LEASE_MS: "1000",
  SAGA_POLL_MS: "100",
  // Few sagas at once, so each kill lands while some are mid-way and others wait.
  SAGA_CONCURRENCY: "8",
  // Enough for tok_flaky with one call to spare, so an outage soon exhausts a step and cancels.
  SAGA_STEP_ATTEMPTS: String(flakyFailuresBeforeApproval + 2),
  SAGA_BACKOFF_BASE_MS: "20",
  SAGA_BACKOFF_MAX_MS: "400",
  // Generous: a slow call on a busy machine must not read as an outage.
  DOWNSTREAM_TIMEOUT_MS: "5000",
  // Above the transient answers tok_flaky gives in a wave, so only a real outage opens a circuit.
  DOWNSTREAM_BREAKER_THRESHOLD: String(transientAnswersPerWave + 4),
  DOWNSTREAM_BREAKER_HALF_OPEN_MS: "250",
  SHUTDOWN_GRACE_MS: "2000",
};

/**
 * Longer than a nats.js client keeps reconnecting by default (10 attempts, 2 s apart): a
 * service left with that default would lose its event work for good.
 */
const natsOutageMs = 25_000;

interface Wave {
  name: string;
  disrupt(system: RunningSystem): Promise<void>;
  /**
   * The reason a checkout may also end with when its step's service was down longer than the
   * step's retry budget (the contract has no reason of its own for an unreachable inventory).
   */
  outageReason?: string;
}

const waves: Wave[] = [
  { name: "kill -9 orders", disrupt: (system) => system.service("orders").restart() },
  { name: "kill -9 payments", disrupt: (system) => system.service("payments").restart(), outageReason: "PAYMENT_FAILED" },
  { name: "kill -9 inventory", disrupt: (system) => system.service("inventory").restart(), outageReason: "INSUFFICIENT_STOCK" },
  {
    name: `NATS down ${natsOutageMs / 1000} s (kill -9, started again)`,
    async disrupt(system) {
      await system.nats.kill();
      await delay(natsOutageMs);
      await system.nats.start();
    },
  },
];

const shippingAddress = {
  recipient: "Grace Hopper",
  line1: "1 Compiler Way",
  line2: "",
  city: "Arlington",
  postalCode: "22201",
  countryCode: "US",
};

interface PlacedOrder {
  id: string;
  kind: string;
  wave: number;
}

let system: RunningSystem;
let databases: ServiceDatabases;

beforeAll(async () => {
  system = await startSystem({
    contexts: ["catalog", "inventory", "payments", "shipping", "notifications", "orders"],
    env: serviceEnv,
    readyTimeoutMs: 120_000,
  });
  databases = new ServiceDatabases((context) => system.databaseUrl(context));
}, 300_000);

afterAll(async () => {
  await databases?.close();
  await system?.stop();
}, 60_000);

/**
 * Places an order as its customer would: retried with the same idempotency key while orders
 * is unreachable, so a retry can never make a second order.
 */
async function placeOrder(kind: string, userId: string): Promise<string> {
  const orders = createServiceClient(OrderService, { address: system.service("orders").address, defaultTimeoutMs: 5_000 });
  const headers = { ...callerHeaders(userId), [metadataKeys.idempotencyKey]: randomUUID() };
  const { paymentToken, items } = orderKinds[kind]!;
  try {
    const { order } = await waitFor(
      () =>
        orders.placeOrder({ items, shippingAddress, paymentToken }, { headers }).catch((err: unknown) => {
          if (isTransient(err)) return { order: undefined };
          throw ConnectError.from(err);
        }),
      (response) => response.order !== undefined,
      { timeoutMs: 60_000, intervalMs: 200, what: `PlaceOrder (${kind}) to be accepted` },
    );
    return order!.id;
  } finally {
    orders.close();
  }
}

interface WaveProgress {
  final: number;
  /** Past pricing and not final: a kill now interrupts a checkout between services. */
  midway: number;
}

async function progressOf(orderIds: string[]): Promise<WaveProgress> {
  const [row] = await databases.query<{ final: number; midway: number }>(
    "orders",
    `SELECT count(*) FILTER (WHERE o.status <> 'PENDING')::int AS final,
            count(*) FILTER (WHERE o.status = 'PENDING' AND (s.phase <> 'FORWARD' OR s.step <> 'PRICE'))::int AS midway
       FROM orders o JOIN checkout_sagas s ON s.order_id = o.id
      WHERE o.id = ANY($1::uuid[])`,
    [orderIds],
  );
  return row!;
}

/** What the event pipelines still owe: unsent outbox rows per publisher and unacknowledged messages per consumer. */
async function eventBacklog(): Promise<Record<string, number>> {
  const backlog: Record<string, number> = {};
  for (const context of eventPublishers) {
    const [row] = await databases.query<{ n: number }>(context, `SELECT count(*)::int AS n FROM outbox_events WHERE sent_at IS NULL`);
    backlog[`${context} outbox`] = row!.n;
  }
  for (const ref of consumers) backlog[`${ref.consumer} on ${ref.context}`] = await consumerBacklog(system.nats.url, ref);
  return backlog;
}

const outcomeOf = (order: CheckoutState["orders"][number]): Outcome =>
  order.status === "CANCELLED" ? `CANCELLED ${order.cancellationReason}` : order.status;

describe("checkout under kill -9", () => {
  it("ends every order CONFIRMED or CANCELLED with money, stock and events adding up", async () => {
    const startedAt = Date.now();
    const timeline: string[] = [];
    const note = (line: string) => timeline.push(`${((Date.now() - startedAt) / 1000).toFixed(1).padStart(6)} s  ${line}`);
    onTestFailed(() => console.error(`checkout chaos timeline:\n${timeline.join("\n")}\nservice logs (ends):\n${system.logTails(15)}`));

    const inventory = createServiceClient(InventoryService, {
      address: system.service("inventory").address,
      credential: serviceCredential("orders"),
    });
    try {
      for (const [productId, quantity] of Object.entries(stockLevels))
        await inventory.setStock({ productId, quantity }, { headers: adminHeaders() });
    } finally {
      inventory.close();
    }
    const initialStock = new Map(
      (
        await databases.query<{ productId: string; units: number }>(
          "inventory",
          `SELECT product_id::text AS "productId", available + reserved + committed AS units FROM stock`,
        )
      ).map((row) => [row.productId, row.units]),
    );
    const customers = Array.from({ length: 6 }, () => randomUUID());

    const placed: PlacedOrder[] = [];
    const placeOrders = (kinds: string[], wave: number) =>
      Promise.all(
        kinds.map(async (kind, i) => {
          const id = await placeOrder(kind, customers[i % customers.length]!);
          placed.push({ id, kind, wave });
          return id;
        }),
      );
    // Each kind in both halves of a wave: the first half is under way when the disruption hits,
    // the second is being placed at that moment.
    const waveKinds = Array.from({ length: ordersPerKindAndWave }, () => Object.keys(orderKinds)).flat();
    const half = waveKinds.length / 2;
    for (const [waveIndex, wave] of waves.entries()) {
      const label = `wave ${waveIndex + 1}`;
      const early = await placeOrders(waveKinds.slice(0, half), waveIndex);
      const atDisruption = await waitFor(
        () => progressOf(early),
        (p) => p.final >= 1 && p.midway >= 2,
        {
          timeoutMs: 60_000,
          intervalMs: 10,
          what: `${label} to be under way`,
        },
      );
      note(`${label}: ${wave.name} with ${atDisruption.final} final and ${atDisruption.midway} mid-way of ${early.length} placed`);
      const [late] = await Promise.all([placeOrders(waveKinds.slice(half), waveIndex), wave.disrupt(system)]);
      note(`${label}: back up; ${late.length} more placed meanwhile`);

      // Every checkout of the wave ends before the next disruption, so each outage stays within its wave.
      const ids = [...early, ...late];
      await waitFor(
        () => progressOf(ids),
        (p) => p.final === ids.length,
        { timeoutMs: 120_000, intervalMs: 100, what: `${label} to finish` },
      );
      note(`${label}: all ${ids.length} final`);
    }

    await waitFor(eventBacklog, (backlog) => Object.values(backlog).every((n) => n === 0), {
      timeoutMs: 120_000,
      intervalMs: 250,
      what: "outboxes to drain and consumers to catch up",
    });
    note("outboxes drained, consumers caught up");

    const state = await readCheckoutState(databases, { orderHistory: orderHistoryConsumer, notifications: "notifications" });
    expect(checkoutViolations(state, initialStock)).toEqual([]);

    // PlaceOrder calls retried across the orders kill made no second order.
    expect(state.orders.map((o) => o.id).sort()).toEqual(placed.map((o) => o.id).sort());

    const outcomes = new Map(state.orders.map((o) => [o.id, outcomeOf(o)]));
    const unexpected = placed
      .filter(({ id, kind, wave }) => {
        const allowed = [...orderKinds[kind]!.outcomes, ...(waves[wave]!.outageReason ? [`CANCELLED ${waves[wave]!.outageReason}`] : [])];
        return !allowed.includes(outcomes.get(id)!);
      })
      .map(({ id, kind, wave }) => `${id} ${kind} in "${waves[wave]!.name}": ${outcomes.get(id)}`);
    expect(unexpected).toEqual([]);

    // JetStream holds each event exactly once (the relay's republishing after a kill was deduplicated), and nothing was dead-lettered.
    const streams = await streamMessageCounts(system.nats.url, eventPublishers);
    expect(streams).toEqual({ byContext: Object.fromEntries(eventPublishers.map((c) => [c, state.outbox[c].length])), deadLetters: 0 });

    const tally = new Map<string, number>();
    for (const outcome of outcomes.values()) tally.set(outcome, (tally.get(outcome) ?? 0) + 1);
    note(`outcomes: ${[...tally].map(([outcome, n]) => `${n} ${outcome}`).join(", ")}`);
    console.log(`checkout chaos timeline:\n${timeline.join("\n")}`);
  }, 420_000);
});
