import { randomUUID } from "node:crypto";
import path from "node:path";
import { OrderStatus } from "@shop/contracts/shop/orders/v1/orders_pb.js";
import { createSqlDatabase, type SqlDatabase } from "@shop/runtime";
import { createTestDatabase, type TestDatabase, waitFor } from "@shop/runtime/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { OrderEvent } from "../domain/order-history.js";
import { OrderHistoryRepository } from "./order-history.js";

const serviceDir = path.resolve(import.meta.dirname, "../..");
const address = { recipient: "Grace Hopper", line1: "1 Harbor Way", line2: "", city: "Arlington", postalCode: "22201", countryCode: "US" };

describe("order history repository", () => {
  let database: TestDatabase;
  let db: SqlDatabase;

  beforeAll(async () => {
    database = await createTestDatabase("orders", serviceDir);
    db = createSqlDatabase(database.url, { poolSize: 3 });
  });

  afterAll(async () => {
    await db?.close();
    await database?.drop();
  });

  /** Advisory locks of this database, held (`granted`) or waited for. */
  const advisoryLocks = async (granted: boolean) =>
    (
      await db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM pg_locks
         WHERE locktype = 'advisory' AND granted = $1 AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
        [granted],
      )
    )[0]!.n;

  it("folds concurrent events of one order one after the other, the later seeing what the earlier committed", async () => {
    const history = new OrderHistoryRepository(db);
    const orderId = randomUUID();
    const userId = randomUUID();
    const productId = randomUUID();
    const at = new Date("2026-12-01T10:00:00.000Z");
    const placed: OrderEvent = {
      kind: "placed",
      orderId,
      userId,
      items: [{ productId, quantity: 2 }],
      shippingAddress: address,
      occurredAt: at,
    };
    const confirmed: OrderEvent = {
      kind: "confirmed",
      orderId,
      userId,
      total: { currency: "USD", amountMinor: 3998n },
      occurredAt: new Date(at.getTime() + 1000),
    };

    let applied!: () => void;
    const firstApplied = new Promise<void>((resolve) => (applied = resolve));
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    // Another replica's consumer, still inside its transaction after folding OrderPlaced.
    const first = db.transaction(async (tx) => {
      await history.apply(tx, [placed]);
      applied();
      await released;
    });
    await firstApplied;
    const second = db.transaction((tx) => history.apply(tx, [confirmed]));
    await waitFor(
      () => advisoryLocks(false),
      (waiting) => waiting === 1,
      { what: "the second fold to wait for the first" },
    );
    release();
    await Promise.all([first, second]);

    const [order] = (await history.listForUser(userId, 10)).map(({ order }) => order);
    expect(order).toMatchObject({
      id: orderId,
      status: OrderStatus.CONFIRMED,
      items: [{ productId, quantity: 2 }],
      total: { currencyCode: "USD", amountMinor: 3998n },
      shippingAddress: { recipient: "Grace Hopper" },
    });
  });
  it("folds a batch of several orders' events, in any order, to what folding them one at a time gives", async () => {
    const history = new OrderHistoryRepository(db);
    const userId = randomUUID();
    const productId = randomUUID();
    const at = (seconds: number) => new Date(Date.UTC(2026, 11, 2, 9, 0, seconds));
    const eventsOf = (orderId: string): OrderEvent[] => [
      { kind: "placed", orderId, userId, items: [{ productId, quantity: 1 }], shippingAddress: address, occurredAt: at(0) },
      {
        kind: "priced",
        orderId,
        userId,
        lines: [
          {
            productId,
            quantity: 1,
            name: "Mug",
            unitPrice: { currency: "USD", amountMinor: 1999n },
            lineTotal: { currency: "USD", amountMinor: 1999n },
          },
        ],
        total: { currency: "USD", amountMinor: 1999n },
        occurredAt: at(1),
      },
      { kind: "confirmed", orderId, userId, total: { currency: "USD", amountMinor: 1999n }, occurredAt: at(2) },
    ];
    const [a, b, c] = [randomUUID(), randomUUID(), randomUUID()];
    // Order a already has a row; b's events arrive out of order; c's second event names it in upper case.
    await db.transaction((tx) => history.apply(tx, [eventsOf(a)[0]!]));
    const batch = [
      eventsOf(b)[2]!,
      eventsOf(c)[1]!,
      eventsOf(a)[1]!,
      eventsOf(b)[0]!,
      { ...eventsOf(c)[0]!, orderId: c.toUpperCase() },
      eventsOf(a)[2]!,
      eventsOf(b)[1]!,
    ];
    await db.transaction((tx) => history.apply(tx, batch));
    const inBatch = (await history.listForUser(userId, 10)).map(({ order }) => order);

    await db.execute(`DELETE FROM order_history WHERE user_id = $1`, [userId]);
    for (const event of [eventsOf(a)[0]!, ...batch]) await db.transaction((tx) => history.apply(tx, [event]));
    const oneByOne = (await history.listForUser(userId, 10)).map(({ order }) => order);

    expect(inBatch).toHaveLength(3);
    expect(inBatch).toEqual(oneByOne);
    const byId = new Map(inBatch.map((order) => [order.id, order]));
    expect(byId.get(a)).toMatchObject({
      status: OrderStatus.CONFIRMED,
      total: { amountMinor: 1999n },
      shippingAddress: { recipient: "Grace Hopper" },
    });
    expect(byId.get(b)).toMatchObject({ status: OrderStatus.CONFIRMED, items: [{ productId, quantity: 1 }] });
    expect(byId.get(c)).toMatchObject({
      status: OrderStatus.PENDING,
      total: { amountMinor: 1999n },
      shippingAddress: { recipient: "Grace Hopper" },
    });
  });
});
