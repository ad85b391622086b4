import { describe, expect, it } from "vitest";
import { type CatalogPrice, maxAmountMinor, priceOrder } from "./pricing.js";

const usd = (amountMinor: bigint) => ({ currency: "USD", amountMinor });
const mug: CatalogPrice = { productId: "p-mug", name: "Mug", price: usd(1250n) };
const lamp: CatalogPrice = { productId: "p-lamp", name: "Lamp", price: usd(4999n) };

describe("priceOrder", () => {
  it("snapshots name and unit price per line and sums the line totals", () => {
    const result = priceOrder(
      [
        { productId: "p-lamp", quantity: 1 },
        { productId: "p-mug", quantity: 3 },
      ],
      [mug, lamp],
    );
    expect(result).toEqual({
      kind: "priced",
      order: {
        lines: [
          { productId: "p-lamp", quantity: 1, name: "Lamp", unitPrice: usd(4999n), lineTotal: usd(4999n) },
          { productId: "p-mug", quantity: 3, name: "Mug", unitPrice: usd(1250n), lineTotal: usd(3750n) },
        ],
        total: usd(8749n),
      },
    });
  });

  it("keeps exact integer totals far beyond floating point precision", () => {
    const pricey: CatalogPrice = { productId: "p-x", name: "X", price: usd(9_007_199_254_740_993n) };
    const result = priceOrder([{ productId: "p-x", quantity: 1000 }], [pricey]);
    expect(result.kind === "priced" && result.order.total.amountMinor).toBe(9_007_199_254_740_993_000n);
  });

  it("says which products the catalog does not have", () => {
    const result = priceOrder(
      [
        { productId: "p-mug", quantity: 1 },
        { productId: "p-gone", quantity: 1 },
      ],
      [mug],
    );
    expect(result).toEqual({ kind: "unavailable", detail: "products not in the catalog: p-gone" });
  });

  it("refuses to sell products priced in different currencies together", () => {
    const euroLamp: CatalogPrice = { ...lamp, price: { currency: "EUR", amountMinor: 4500n } };
    const result = priceOrder(
      [
        { productId: "p-mug", quantity: 1 },
        { productId: "p-lamp", quantity: 1 },
      ],
      [mug, euroLamp],
    );
    expect(result.kind).toBe("unavailable");
    expect(result.kind === "unavailable" && result.detail).toMatch(/USD, EUR/);
  });

  it("refuses a total past int64: the largest price ordered twice is unavailable, not a value nothing can store", () => {
    const priciest: CatalogPrice = { productId: "p-max", name: "Everything", price: { currency: "USD", amountMinor: maxAmountMinor } };
    expect(priceOrder([{ productId: "p-max", quantity: 1 }], [priciest]).kind).toBe("priced");
    const twice = priceOrder([{ productId: "p-max", quantity: 2 }], [priciest]);
    expect(twice).toEqual({
      kind: "unavailable",
      detail: "the order's total (18446744073709551614 USD minor units) is more than any order may carry (9223372036854775807)",
    });
    const together = priceOrder(
      [
        { productId: "p-max", quantity: 1 },
        { productId: "p-mug", quantity: 1 },
      ],
      [priciest, mug],
    );
    expect(together.kind).toBe("unavailable");
  });
});
