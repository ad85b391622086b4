import { randomUUID } from "node:crypto";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OrderStatus } from "@shop/contracts/shop/orders/v1/orders_pb.js";
import { createSqlDatabase, type SqlDatabase } from "@shop/runtime";
import { createTestDatabase, waitFor, type TestDatabase } from "@shop/runtime/testing";
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
    const placed: OrderEvent = { kind: "placed", orderId, userId, items: [{ productId, quantity: 2 }], shippingAddress: address, occurredAt: at };
    const confirmed: OrderEvent = { kind: "confirmed", orderId, userId, total: { currency: "USD", amountMinor: 3998n }, occurredAt: new Date(at.getTime() + 1000) };

    let applied!: () => void;
    const firstApplied = new Promise<void>((resolve) => (applied = resolve));
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    // Another replica's consumer, still inside its transaction after folding OrderPlaced.
    const first = db.transaction(async (tx) => {
      await history.apply(tx, placed);
      applied();
      await released;
    });
    await firstApplied;
    const second = db.transaction((tx) => history.apply(tx, confirmed));
    await waitFor(() => advisoryLocks(false), (waiting) => waiting === 1, { what: "the second fold to wait for the first" });
    release();
    await Promise.all([first, second]);

    const [order] = (await history.listForUser(userId, 10)).orders;
    expect(order).toMatchObject({
      id: orderId,
      status: OrderStatus.CONFIRMED,
      items: [{ productId, quantity: 2 }],
      total: { currencyCode: "USD", amountMinor: 3998n },
      shippingAddress: { recipient: "Grace Hopper" },
    });
  });
});
