import { describe, expect, it } from "vitest";
import { applyOrderEvent, type OrderEvent, type OrderHistoryEntry } from "./order-history.js";

const at = (second: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, second));
const usd = (amountMinor: bigint) => ({ currency: "USD", amountMinor });
const address = { recipient: "Ada", line1: "1 Main St", line2: "", city: "Springfield", postalCode: "12345", countryCode: "US" };
const ids = { orderId: "o-1", userId: "u-1" };

const placed: OrderEvent = {
  kind: "placed",
  ...ids,
  items: [{ productId: "p-1", quantity: 2 }],
  shippingAddress: address,
  occurredAt: at(0),
};
const priced: OrderEvent = {
  kind: "priced",
  ...ids,
  lines: [{ productId: "p-1", quantity: 2, name: "Mug", unitPrice: usd(500n), lineTotal: usd(1000n) }],
  total: usd(1000n),
  occurredAt: at(1),
};
const confirmed: OrderEvent = { kind: "confirmed", ...ids, total: usd(1000n), occurredAt: at(2) };
const cancelled: OrderEvent = { kind: "cancelled", ...ids, reason: "CUSTOMER_REQUESTED", occurredAt: at(3) };

const fold = (events: OrderEvent[]) => events.reduce<OrderHistoryEntry | undefined>(applyOrderEvent, undefined)!;

function permutations<T>(items: T[]): T[][] {
  if (items.length <= 1) return [items];
  return items.flatMap((item, i) => permutations([...items.slice(0, i), ...items.slice(i + 1)]).map((rest) => [item, ...rest]));
}

describe("order history entries", () => {
  it("shows a placed order as PENDING with unpriced lines", () => {
    const { order, priced: isPriced } = fold([placed]);
    expect(isPriced).toBe(false);
    expect(order).toMatchObject({ id: "o-1", userId: "u-1", status: "PENDING", total: null, shippingAddress: address, createTime: at(0) });
    expect(order.items).toEqual([{ productId: "p-1", quantity: 2, name: "", unitPrice: null, lineTotal: null }]);
  });

  it("ends the same whatever order the events arrive in", () => {
    const expected = fold([placed, priced, confirmed, cancelled]);
    expect(expected.order).toMatchObject({
      status: "CANCELLED",
      cancellationReason: "CUSTOMER_REQUESTED",
      total: usd(1000n),
      createTime: at(0),
      updateTime: at(3),
    });
    for (const order of permutations([placed, priced, confirmed, cancelled])) expect(fold(order)).toEqual(expected);
  });

  it("never lets a late OrderPlaced take a CONFIRMED order back to PENDING or drop its prices", () => {
    const entry = fold([priced, confirmed, placed]);
    expect(entry.order.status).toBe("CONFIRMED");
    expect(entry.order.items[0]!.name).toBe("Mug");
    expect(entry.order.shippingAddress).toEqual(address);
  });

  it("applies a redelivered event without changing anything", () => {
    const once = fold([placed, priced, confirmed]);
    expect(fold([placed, priced, priced, confirmed, placed, confirmed])).toEqual(once);
  });
});
