import { describe, expect, it } from "vitest";
import {
  InvalidItemsError,
  itemsInLockOrder,
  type ReservationAction,
  ReservationStateError,
  type ReservationStatus,
  stepFor,
} from "./reservation.js";

const orderId = "0b6f7c1e-5d3a-4e8b-9c2d-1a2b3c4d5e6f";
const at = (status: ReservationStatus) => ({ orderId, status });

describe("stepFor", () => {
  it.each<[ReservationStatus, ReservationAction, ReservationStatus]>([
    ["RESERVED", "release", "RELEASED"],
    ["RESERVED", "commit", "COMMITTED"],
  ])("moves %s on %s to %s", (status, action, to) => {
    expect(stepFor(at(status), action)).toEqual({ kind: "apply", to });
  });

  it.each<[ReservationStatus, ReservationAction]>([
    ["RESERVED", "reserve"],
    ["RELEASED", "release"],
    ["COMMITTED", "commit"],
    ["COMMITTED", "reserve"],
  ])("leaves %s unchanged on a repeated %s", (status, action) => {
    expect(stepFor(at(status), action)).toEqual({ kind: "unchanged" });
  });

  it.each<[ReservationStatus, ReservationAction, string]>([
    ["RELEASED", "reserve", "was released"],
    ["RELEASED", "commit", "was released and cannot be committed"],
    ["COMMITTED", "release", "is committed and cannot be released"],
  ])("refuses %s on %s, naming the order", (status, action, reason) => {
    expect(() => stepFor(at(status), action)).toThrow(new ReservationStateError(`reservation for order ${orderId} ${reason}`));
  });
});

describe("itemsInLockOrder", () => {
  const a = "00000000-0000-4000-8000-00000000000a";
  const b = "00000000-0000-4000-8000-00000000000b";
  const c = "00000000-0000-4000-8000-00000000000c";

  it("sorts items by lower-cased product id and keeps their quantities", () => {
    const items = [
      { productId: c, quantity: 3 },
      { productId: a.toUpperCase(), quantity: 1 },
      { productId: b, quantity: 2 },
    ];
    expect(itemsInLockOrder(items)).toEqual([
      { productId: a, quantity: 1 },
      { productId: b, quantity: 2 },
      { productId: c, quantity: 3 },
    ]);
  });

  it("does not reorder the caller's array", () => {
    const items = [
      { productId: b, quantity: 1 },
      { productId: a, quantity: 1 },
    ];
    itemsInLockOrder(items);
    expect(items.map((item) => item.productId)).toEqual([b, a]);
  });

  it("refuses a product listed twice, in any letter case, naming the later item", () => {
    const items = [
      { productId: a, quantity: 1 },
      { productId: b, quantity: 1 },
      { productId: a.toUpperCase(), quantity: 5 },
    ];
    let thrown: unknown;
    try {
      itemsInLockOrder(items);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(InvalidItemsError);
    expect(thrown).toMatchObject({ field: "items[2].productId", reason: "repeats the product of items[0]" });
  });
});
