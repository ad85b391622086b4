import { randomUUID } from "node:crypto";
import { Code, ConnectError } from "@connectrpc/connect";
import { ReservationStatus } from "@shop/contracts/shop/inventory/v1/inventory_pb.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { failureOf, type InventoryClient, startTestInventory, stockLevels, stockProduct, type TestInventory } from "./testing.js";

let inventory: TestInventory;
let client: InventoryClient;

beforeAll(async () => {
  inventory = await startTestInventory();
  client = inventory.client;
});

afterAll(async () => {
  await inventory?.stop();
});

const stockedProduct = (available: number) => stockProduct(client, available);
const levelsOf = (productId: string) => stockLevels(client, productId);

/** Runs every call at once; each settles to its response or its ConnectError. */
const allSettled = (calls: Promise<unknown>[]) =>
  Promise.all(
    calls.map((call) =>
      call.then(
        (value) => ({ ok: true as const, value }),
        (e: unknown) => ({ ok: false as const, error: ConnectError.from(e) }),
      ),
    ),
  );

describe("reserve under concurrency", () => {
  it("never oversells: 40 orders racing for 10 units", async () => {
    const productId = await stockedProduct(10);
    const orders = Array.from({ length: 40 }, (_, i) => ({ orderId: randomUUID(), quantity: (i % 3) + 1 }));
    const outcomes = await allSettled(
      orders.map(({ orderId, quantity }) => client.reserveStock({ orderId, items: [{ productId, quantity }] })),
    );

    const failures = outcomes.flatMap((outcome) => (outcome.ok ? [] : [outcome.error]));
    for (const error of failures) {
      expect(error.code).toBe(Code.FailedPrecondition);
      expect(error.rawMessage).toMatch(new RegExp(`^insufficient stock for product ${productId}: requested [123], available \\d+$`));
    }
    const won = orders.filter((_, i) => outcomes[i]!.ok);
    const lost = orders.filter((_, i) => !outcomes[i]!.ok);
    const held = won.reduce((sum, order) => sum + order.quantity, 0);
    const levels = await levelsOf(productId);
    expect(levels.reserved).toBe(held);
    expect(levels.reserved).toBeLessThanOrEqual(10);
    expect(levels.available + levels.reserved).toBe(10);
    // Stock only shrank during the race, so every loser must still find too little left.
    for (const order of lost) expect(levels.available).toBeLessThan(order.quantity);

    for (const order of won) {
      const { reservation } = await client.getReservation({ orderId: order.orderId });
      expect(reservation).toMatchObject({ status: ReservationStatus.RESERVED, items: [{ productId, quantity: order.quantity }] });
    }
    for (const order of lost) expect((await failureOf(client.getReservation({ orderId: order.orderId }))).code).toBe(Code.NotFound);
  });

  it("applies 20 concurrent reserves of one order exactly once, answering each with the same reservation", async () => {
    const [a, b] = [await stockedProduct(10), await stockedProduct(10)];
    const orderId = randomUUID();
    const items = [
      { productId: a, quantity: 3 },
      { productId: b, quantity: 2 },
    ];
    const responses = await Promise.all(Array.from({ length: 20 }, () => client.reserveStock({ orderId, items })));
    const [first] = responses;
    expect(first!.reservation?.status).toBe(ReservationStatus.RESERVED);
    for (const response of responses) expect(response.reservation).toEqual(first!.reservation);
    expect(await levelsOf(a)).toEqual({ available: 7, reserved: 3, committed: 0 });
    expect(await levelsOf(b)).toEqual({ available: 8, reserved: 2, committed: 0 });
  });

  it("does not deadlock when orders list the same products in different orders", async () => {
    const products = [await stockedProduct(100), await stockedProduct(100), await stockedProduct(100)];
    const orderIds = Array.from({ length: 30 }, () => randomUUID());
    // Each order names all three products, rotated and reversed, so requests disagree on order.
    const itemsOf = (i: number) => {
      const rotated = [...products.slice(i % 3), ...products.slice(0, i % 3)];
      return (i % 2 === 0 ? rotated : rotated.reverse()).map((productId) => ({ productId, quantity: 1 }));
    };
    const reserved = await allSettled(orderIds.map((orderId, i) => client.reserveStock({ orderId, items: itemsOf(i) })));
    expect(reserved.filter((outcome) => !outcome.ok)).toEqual([]);
    for (const productId of products) expect(await levelsOf(productId)).toEqual({ available: 70, reserved: 30, committed: 0 });

    const settled = await allSettled(
      orderIds.map((orderId, i) => (i % 2 === 0 ? client.commitStock({ orderId }) : client.releaseStock({ orderId }))),
    );
    expect(settled.filter((outcome) => !outcome.ok)).toEqual([]);
    for (const productId of products) expect(await levelsOf(productId)).toEqual({ available: 85, reserved: 0, committed: 15 });
  });

  it("ends every order released when reserve and release race, holding no stock", async () => {
    const productId = await stockedProduct(50);
    const orderIds = Array.from({ length: 20 }, () => randomUUID());
    const outcomes = await allSettled(
      orderIds.flatMap((orderId) => [
        client.reserveStock({ orderId, items: [{ productId, quantity: 2 }] }),
        client.releaseStock({ orderId }),
      ]),
    );
    for (const outcome of outcomes) {
      if (!outcome.ok) expect(outcome.error.rawMessage).toMatch(/^reservation for order .* was released$/);
    }
    for (const orderId of orderIds) {
      expect((await client.getReservation({ orderId })).reservation?.status).toBe(ReservationStatus.RELEASED);
    }
    expect(await levelsOf(productId)).toEqual({ available: 50, reserved: 0, committed: 0 });
  });
});
