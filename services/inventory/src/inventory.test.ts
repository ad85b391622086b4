import { randomUUID } from "node:crypto";
import { Code } from "@connectrpc/connect";
import { ReservationStatus } from "@shop/contracts/shop/inventory/v1/inventory_pb.js";
import { demoProducts } from "@shop/runtime";
import { callerHeaders } from "@shop/runtime/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { admin, failureOf, type InventoryClient, startTestInventory, stockLevels, stockProduct, type TestInventory } from "./testing.js";

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

const lockOrder = (items: { productId: string; quantity: number }[]) => [...items].sort((a, b) => a.productId.localeCompare(b.productId));

describe("stock levels", () => {
  it("seeds the demo stock on first start", async () => {
    for (const product of demoProducts) {
      expect(await levelsOf(product.id)).toEqual({ available: product.stock, reserved: 0, committed: 0 });
    }
  });

  it("answers zeros for a product that was never stocked", async () => {
    const productId = randomUUID();
    const { stock } = await client.getStock({ productId });
    expect(stock).toMatchObject({ productId, available: 0, reserved: 0, committed: 0 });
  });

  it("sets the available units, leaving reserved and committed units as they are", async () => {
    const productId = randomUUID();
    const created = await client.setStock({ productId, quantity: 10 }, admin);
    expect(created.stock).toMatchObject({ productId, available: 10, reserved: 0, committed: 0 });
    const orderId = randomUUID();
    await client.reserveStock({ orderId, items: [{ productId, quantity: 3 }] });
    await client.commitStock({ orderId });
    await client.reserveStock({ orderId: randomUUID(), items: [{ productId, quantity: 2 }] });
    const updated = await client.setStock({ productId, quantity: 20 }, admin);
    expect(updated.stock).toMatchObject({ productId, available: 20, reserved: 2, committed: 3 });
    expect(await levelsOf(productId)).toEqual({ available: 20, reserved: 2, committed: 3 });
  });

  it("lets only admins set stock", async () => {
    const productId = randomUUID();
    expect((await failureOf(inventory.anonymous.setStock({ productId, quantity: 5 }))).code).toBe(Code.Unauthenticated);
    const customer = await failureOf(client.setStock({ productId, quantity: 5 }, { headers: callerHeaders() }));
    expect(customer.code).toBe(Code.PermissionDenied);
    expect((await failureOf(client.setStock({ productId, quantity: 5 }))).message).toBe(
      "service orders may not call shop.inventory.v1.InventoryService/SetStock",
    );
    expect(await levelsOf(productId)).toEqual({ available: 0, reserved: 0, committed: 0 });
  });

  it.each([
    [{ productId: "nope", quantity: 1 }, "productId"],
    [{ productId: randomUUID(), quantity: -1 }, "quantity"],
    [{ productId: randomUUID(), quantity: 1_000_001 }, "quantity"],
  ])("rejects SetStock %o naming %s", async (input, field) => {
    const err = await failureOf(client.setStock(input, admin));
    expect(err.code).toBe(Code.InvalidArgument);
    expect(err.message).toContain(`${field}:`);
  });

  it("rejects GetStock of a malformed product id naming productId", async () => {
    const err = await failureOf(client.getStock({ productId: "42" }));
    expect(err.code).toBe(Code.InvalidArgument);
    expect(err.message).toContain("productId:");
  });
});

describe("reserve", () => {
  it("holds stock for every item and reports the reservation", async () => {
    const [mug, lamp] = [await stockedProduct(10), await stockedProduct(4)];
    const orderId = randomUUID();
    const items = [
      { productId: mug, quantity: 3 },
      { productId: lamp, quantity: 4 },
    ];
    const { reservation } = await client.reserveStock({ orderId, items });
    expect(reservation).toMatchObject({ orderId, status: ReservationStatus.RESERVED, items: lockOrder(items) });
    expect(await levelsOf(mug)).toEqual({ available: 7, reserved: 3, committed: 0 });
    expect(await levelsOf(lamp)).toEqual({ available: 0, reserved: 4, committed: 0 });
    expect((await client.getReservation({ orderId })).reservation).toEqual(reservation);
  });

  it("never holds more than is available when orders race for the last units, nor twice for one order", async () => {
    const [a, b] = [await stockedProduct(10), await stockedProduct(10)];
    const items = [
      { productId: a, quantity: 3 },
      { productId: b, quantity: 2 },
    ];
    const orders = Array.from({ length: 12 }, () => randomUUID());
    // Each order asks twice at once; together they want 12 x 3 units of a, and 10 are there.
    const outcomes = await Promise.all(
      [...orders, ...orders].map((orderId) =>
        client.reserveStock({ orderId, items }).then(
          () => "reserved",
          (err: unknown) => failureOf(Promise.reject(err)).then((failure) => Code[failure.code]),
        ),
      ),
    );
    const reservedOrders = new Set<string>();
    for (const orderId of orders) {
      const { reservation } = await client.getReservation({ orderId }).catch(() => ({ reservation: undefined }));
      if (reservation?.status === ReservationStatus.RESERVED) reservedOrders.add(orderId);
    }
    expect(reservedOrders.size).toBe(3);
    expect(outcomes.filter((outcome) => outcome === "reserved")).toHaveLength(6);
    expect(outcomes.filter((outcome) => outcome !== "reserved").every((outcome) => outcome === "FailedPrecondition")).toBe(true);
    expect(await levelsOf(a)).toEqual({ available: 1, reserved: 9, committed: 0 });
    expect(await levelsOf(b)).toEqual({ available: 4, reserved: 6, committed: 0 });
  });

  it("is idempotent per order: a repeat returns the same reservation and holds nothing more", async () => {
    const productId = await stockedProduct(10);
    const orderId = randomUUID();
    const first = await client.reserveStock({ orderId, items: [{ productId, quantity: 4 }] });
    const again = await client.reserveStock({ orderId, items: [{ productId, quantity: 4 }] });
    const different = await client.reserveStock({ orderId, items: [{ productId, quantity: 1 }] });
    expect(again.reservation).toEqual(first.reservation);
    expect(different.reservation).toEqual(first.reservation);
    expect(await levelsOf(productId)).toEqual({ available: 6, reserved: 4, committed: 0 });
  });

  it("treats upper-case ids as the same order and product", async () => {
    const productId = await stockedProduct(5);
    const orderId = randomUUID();
    const upper = await client.reserveStock({
      orderId: orderId.toUpperCase(),
      items: [{ productId: productId.toUpperCase(), quantity: 2 }],
    });
    const lower = await client.reserveStock({ orderId, items: [{ productId, quantity: 2 }] });
    expect(upper.reservation).toEqual(lower.reservation);
    expect(lower.reservation?.items).toEqual([expect.objectContaining({ productId, quantity: 2 })]);
    expect(await levelsOf(productId)).toEqual({ available: 3, reserved: 2, committed: 0 });
  });

  it("is all-or-nothing: one short item leaves every item untouched and records no reservation", async () => {
    const [plenty, short, alsoPlenty] = [await stockedProduct(10), await stockedProduct(1), await stockedProduct(10)];
    const orderId = randomUUID();
    const items = [
      { productId: plenty, quantity: 5 },
      { productId: short, quantity: 2 },
      { productId: alsoPlenty, quantity: 5 },
    ];
    const err = await failureOf(client.reserveStock({ orderId, items }));
    expect(err.code).toBe(Code.FailedPrecondition);
    expect(err.message).toBe(`insufficient stock for product ${short}: requested 2, available 1`);
    for (const productId of [plenty, alsoPlenty]) expect(await levelsOf(productId)).toEqual({ available: 10, reserved: 0, committed: 0 });
    expect(await levelsOf(short)).toEqual({ available: 1, reserved: 0, committed: 0 });
    expect((await failureOf(client.getReservation({ orderId }))).code).toBe(Code.NotFound);

    await client.setStock({ productId: short, quantity: 2 }, admin);
    const retried = await client.reserveStock({ orderId, items });
    expect(retried.reservation?.status).toBe(ReservationStatus.RESERVED);
    expect(await levelsOf(short)).toEqual({ available: 0, reserved: 2, committed: 0 });
  });

  it("refuses a product that was never stocked, naming it", async () => {
    const unstocked = randomUUID();
    const err = await failureOf(client.reserveStock({ orderId: randomUUID(), items: [{ productId: unstocked, quantity: 1 }] }));
    expect(err.code).toBe(Code.FailedPrecondition);
    expect(err.message).toBe(`insufficient stock for product ${unstocked}: requested 1, available 0`);
  });

  it.each([
    ["a malformed order id", { orderId: "order-1", items: [{ productId: randomUUID(), quantity: 1 }] }, "orderId"],
    ["no items", { orderId: randomUUID(), items: [] }, "items"],
    ["a malformed product id", { orderId: randomUUID(), items: [{ productId: "x", quantity: 1 }] }, "items[0].productId"],
    ["a zero quantity", { orderId: randomUUID(), items: [{ productId: randomUUID(), quantity: 0 }] }, "items[0].quantity"],
    ["an excessive quantity", { orderId: randomUUID(), items: [{ productId: randomUUID(), quantity: 10_001 }] }, "items[0].quantity"],
  ])("rejects %s naming %s", async (_case, input, field) => {
    const err = await failureOf(client.reserveStock(input));
    expect(err.code).toBe(Code.InvalidArgument);
    expect(err.message).toContain(`${field}:`);
  });

  it("rejects a product listed twice, naming the repeated item, and holds nothing", async () => {
    const [productId, other] = [await stockedProduct(10), await stockedProduct(10)];
    const orderId = randomUUID();
    const items = [
      { productId, quantity: 1 },
      { productId: other, quantity: 1 },
      { productId: productId.toUpperCase(), quantity: 2 },
    ];
    const err = await failureOf(client.reserveStock({ orderId, items }));
    expect(err.code).toBe(Code.InvalidArgument);
    expect(err.message).toBe("items[2].productId: repeats the product of items[0]");
    expect(await levelsOf(productId)).toEqual({ available: 10, reserved: 0, committed: 0 });
    expect((await failureOf(client.getReservation({ orderId }))).code).toBe(Code.NotFound);
  });
});

describe("release", () => {
  it("gives held units back, and a repeat returns the same result without changing stock", async () => {
    const productId = await stockedProduct(10);
    const orderId = randomUUID();
    await client.reserveStock({ orderId, items: [{ productId, quantity: 6 }] });
    const released = await client.releaseStock({ orderId });
    expect(released.reservation).toMatchObject({ orderId, status: ReservationStatus.RELEASED, items: [{ productId, quantity: 6 }] });
    expect(await levelsOf(productId)).toEqual({ available: 10, reserved: 0, committed: 0 });
    const again = await client.releaseStock({ orderId });
    expect(again.reservation).toEqual(released.reservation);
    expect(await levelsOf(productId)).toEqual({ available: 10, reserved: 0, committed: 0 });
  });

  it("records an unknown order as released so that a late reserve cannot hold stock", async () => {
    const productId = await stockedProduct(10);
    const orderId = randomUUID();
    const released = await client.releaseStock({ orderId });
    expect(released.reservation).toMatchObject({ orderId, status: ReservationStatus.RELEASED, items: [] });
    expect((await client.releaseStock({ orderId })).reservation).toEqual(released.reservation);
    const late = await failureOf(client.reserveStock({ orderId, items: [{ productId, quantity: 1 }] }));
    expect(late).toEqual({ code: Code.FailedPrecondition, message: `reservation for order ${orderId} was released` });
    expect(await levelsOf(productId)).toEqual({ available: 10, reserved: 0, committed: 0 });
  });

  it("refuses to release a committed reservation and leaves the sale in place", async () => {
    const productId = await stockedProduct(10);
    const orderId = randomUUID();
    await client.reserveStock({ orderId, items: [{ productId, quantity: 2 }] });
    await client.commitStock({ orderId });
    const err = await failureOf(client.releaseStock({ orderId }));
    expect(err).toEqual({ code: Code.FailedPrecondition, message: `reservation for order ${orderId} is committed and cannot be released` });
    expect(await levelsOf(productId)).toEqual({ available: 8, reserved: 0, committed: 2 });
  });

  it("rejects a malformed order id naming orderId", async () => {
    const err = await failureOf(client.releaseStock({ orderId: "" }));
    expect(err.code).toBe(Code.InvalidArgument);
    expect(err.message).toContain("orderId:");
  });
});

describe("commit", () => {
  it("turns held units into sold units, and a repeat returns the same result without changing stock", async () => {
    const [a, b] = [await stockedProduct(5), await stockedProduct(5)];
    const orderId = randomUUID();
    await client.reserveStock({
      orderId,
      items: [
        { productId: a, quantity: 2 },
        { productId: b, quantity: 5 },
      ],
    });
    const committed = await client.commitStock({ orderId });
    expect(committed.reservation?.status).toBe(ReservationStatus.COMMITTED);
    expect(await levelsOf(a)).toEqual({ available: 3, reserved: 0, committed: 2 });
    expect(await levelsOf(b)).toEqual({ available: 0, reserved: 0, committed: 5 });
    expect((await client.commitStock({ orderId })).reservation).toEqual(committed.reservation);
    expect((await client.reserveStock({ orderId, items: [{ productId: a, quantity: 1 }] })).reservation).toEqual(committed.reservation);
    expect((await client.getReservation({ orderId })).reservation).toEqual(committed.reservation);
    expect(await levelsOf(a)).toEqual({ available: 3, reserved: 0, committed: 2 });
    expect(await levelsOf(b)).toEqual({ available: 0, reserved: 0, committed: 5 });
  });

  it("settles a reservation once when commits and releases of it race", async () => {
    for (let round = 0; round < 5; round++) {
      const [a, b] = [await stockedProduct(10), await stockedProduct(10)];
      const orderId = randomUUID();
      await client.reserveStock({
        orderId,
        items: [
          { productId: a, quantity: 3 },
          { productId: b, quantity: 4 },
        ],
      });
      const calls = Array.from({ length: 8 }, (_, i) =>
        (i % 2 ? client.releaseStock({ orderId }) : client.commitStock({ orderId })).then(
          (answer) => answer.reservation!.status,
          (err: unknown) => failureOf(Promise.reject(err)).then((failure) => failure.code),
        ),
      );
      const outcomes = await Promise.all(calls);
      const { reservation } = await client.getReservation({ orderId });
      const won = reservation!.status;
      expect([ReservationStatus.COMMITTED, ReservationStatus.RELEASED]).toContain(won);
      // Every call either answers the winner's status or is refused for the other one's.
      for (const outcome of outcomes) expect([won, Code.FailedPrecondition]).toContain(outcome);
      const sold = won === ReservationStatus.COMMITTED;
      expect(await levelsOf(a)).toEqual({ available: sold ? 7 : 10, reserved: 0, committed: sold ? 3 : 0 });
      expect(await levelsOf(b)).toEqual({ available: sold ? 6 : 10, reserved: 0, committed: sold ? 4 : 0 });
    }
  });

  it("refuses to commit a released reservation", async () => {
    const productId = await stockedProduct(5);
    const orderId = randomUUID();
    await client.reserveStock({ orderId, items: [{ productId, quantity: 2 }] });
    await client.releaseStock({ orderId });
    const err = await failureOf(client.commitStock({ orderId }));
    expect(err).toEqual({
      code: Code.FailedPrecondition,
      message: `reservation for order ${orderId} was released and cannot be committed`,
    });
    expect(await levelsOf(productId)).toEqual({ available: 5, reserved: 0, committed: 0 });
  });

  it("answers NOT_FOUND for an order without a reservation, and records nothing", async () => {
    const orderId = randomUUID();
    const err = await failureOf(client.commitStock({ orderId }));
    expect(err).toEqual({ code: Code.NotFound, message: `reservation for order ${orderId} not found` });
    expect((await failureOf(client.getReservation({ orderId }))).code).toBe(Code.NotFound);
  });

  it("rejects a malformed order id naming orderId", async () => {
    const err = await failureOf(client.commitStock({ orderId: "not-a-uuid" }));
    expect(err.code).toBe(Code.InvalidArgument);
    expect(err.message).toContain("orderId:");
  });
});

describe("get reservation", () => {
  it("answers NOT_FOUND for an unknown order and INVALID_ARGUMENT for a malformed id", async () => {
    const orderId = randomUUID();
    expect(await failureOf(client.getReservation({ orderId }))).toEqual({
      code: Code.NotFound,
      message: `reservation for order ${orderId} not found`,
    });
    const malformed = await failureOf(client.getReservation({ orderId: "abc" }));
    expect(malformed.code).toBe(Code.InvalidArgument);
    expect(malformed.message).toContain("orderId:");
  });
});
