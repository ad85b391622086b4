import { describe, expect, it } from "vitest";
import { cancellationReasonInWords, composeNotification, formatMoney } from "./notification.js";

const ids = { orderId: "o-1", userId: "u-1" };

describe("formatMoney", () => {
  it.each([
    [{ currencyCode: "USD", amountMinor: 1999n }, "$19.99"],
    [{ currencyCode: "USD", amountMinor: 5n }, "$0.05"],
    [{ currencyCode: "USD", amountMinor: 0n }, "$0.00"],
    [{ currencyCode: "EUR", amountMinor: 123456n }, "€1,234.56"],
    [{ currencyCode: "JPY", amountMinor: 500n }, "¥500"],
    [{ currencyCode: "USD", amountMinor: 900719925474099312n }, "$9,007,199,254,740,993.12"],
    [{ currencyCode: "USD", amountMinor: -250n }, "-$2.50"],
  ])("formats %o as %s", (money, expected) => {
    expect(formatMoney(money)).toBe(expected);
  });

  it("falls back to minor units for a currency code Intl rejects", () => {
    expect(formatMoney({ currencyCode: "??", amountMinor: 42n })).toBe("42 ?? (minor units)");
  });
});

describe("cancellationReasonInWords", () => {
  it.each([
    ["PAYMENT_DECLINED", "your payment was declined"],
    ["INSUFFICIENT_STOCK", "an item is out of stock"],
    ["CUSTOMER_REQUESTED", "you asked us to cancel it"],
    ["PRODUCT_UNAVAILABLE", "an item is no longer available"],
  ])("says %s as %s", (reason, words) => {
    expect(cancellationReasonInWords(reason)).toBe(words);
  });

  it.each(["", "SOMETHING_NEW", "toString", "payment_declined"])("has no words for %j", (reason) => {
    expect(cancellationReasonInWords(reason)).toBeUndefined();
  });
});

describe("composeNotification", () => {
  it("confirms an order with its total", () => {
    expect(composeNotification({ kind: "order_confirmed", ...ids, total: { currencyCode: "USD", amountMinor: 4500n } })).toEqual({
      kind: "order_confirmed",
      ...ids,
      subject: "Your order is confirmed",
      body: "Thank you! Order o-1 is confirmed. Total: $45.00.",
    });
  });

  it("leaves out an amount the event does not carry", () => {
    expect(composeNotification({ kind: "order_confirmed", ...ids }).body).toBe("Thank you! Order o-1 is confirmed.");
    expect(composeNotification({ kind: "payment_refunded", ...ids }).body).toBe("We refunded your payment for order o-1.");
  });

  it("explains a cancellation with its reason in words", () => {
    const draft = composeNotification({ kind: "order_cancelled", ...ids, reason: "PAYMENT_DECLINED" });
    expect(draft).toMatchObject({ kind: "order_cancelled", ...ids, subject: "Your order was cancelled" });
    expect(draft.body).toBe("Order o-1 was cancelled because your payment was declined.");
  });

  it("keeps a cancellation with an unknown reason generic", () => {
    expect(composeNotification({ kind: "order_cancelled", ...ids, reason: "GREMLINS" }).body).toBe("Order o-1 was cancelled.");
    expect(composeNotification({ kind: "order_cancelled", ...ids, reason: "" }).body).toBe("Order o-1 was cancelled.");
  });

  it("gives the tracking number of a new shipment", () => {
    const draft = composeNotification({ kind: "shipment_created", ...ids, trackingNumber: "TRK-123" });
    expect(draft).toMatchObject({ kind: "shipment_created", ...ids });
    expect(draft.body).toContain("TRK-123");
  });

  it("states the refunded amount", () => {
    const draft = composeNotification({ kind: "payment_refunded", ...ids, amount: { currencyCode: "EUR", amountMinor: 1050n } });
    expect(draft).toMatchObject({ kind: "payment_refunded", ...ids, subject: "Your payment was refunded" });
    expect(draft.body).toBe("We refunded €10.50 for order o-1.");
  });
});
