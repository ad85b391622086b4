import type { Money, OrderLine, RequestedItem } from "../domain/order.js";

/** A product as the catalog prices it at the moment of purchase. */
export interface CatalogPrice {
  productId: string;
  name: string;
  price: Money;
}

export interface PricedOrder {
  lines: OrderLine[];
  total: Money;
}

/** The largest amount an order may carry: money is int64 minor units on the wire and in the database. */
export const maxAmountMinor = 2n ** 63n - 1n;

export type PricingResult = { kind: "priced"; order: PricedOrder } | { kind: "unavailable"; detail: string };

/**
 * Snapshots name and unit price of every item and sums the lines. An order is charged in
 * one currency, so products priced in different currencies cannot be sold together; nor can a
 * total past what an amount can hold (checked on exact bigint sums, before anything stores it).
 */
export function priceOrder(items: RequestedItem[], catalog: CatalogPrice[]): PricingResult {
  const byId = new Map(catalog.map((product) => [product.productId, product]));
  const missing = items.filter((item) => !byId.has(item.productId)).map((item) => item.productId);
  if (missing.length > 0) return { kind: "unavailable", detail: `products not in the catalog: ${missing.join(", ")}` };
  const currencies = new Set(items.map((item) => byId.get(item.productId)!.price.currency));
  if (currencies.size > 1) return { kind: "unavailable", detail: `products priced in several currencies: ${[...currencies].join(", ")}` };
  const [currency] = currencies as Set<string>;
  const lines = items.map((item): OrderLine => {
    const product = byId.get(item.productId)!;
    return {
      productId: item.productId,
      quantity: item.quantity,
      name: product.name,
      unitPrice: product.price,
      lineTotal: { currency: currency!, amountMinor: product.price.amountMinor * BigInt(item.quantity) },
    };
  });
  const totalMinor = lines.reduce((sum, line) => sum + line.lineTotal!.amountMinor, 0n);
  if (totalMinor > maxAmountMinor) {
    return {
      kind: "unavailable",
      detail: `the order's total (${totalMinor} ${currency} minor units) is more than any order may carry (${maxAmountMinor})`,
    };
  }
  return { kind: "priced", order: { lines, total: { currency: currency!, amountMinor: totalMinor } } };
}
