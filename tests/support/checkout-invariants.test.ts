import {
  OrderCancelledSchema,
  OrderConfirmedSchema,
  OrderPlacedSchema,
  OrderPricedSchema,
} from "@shop/contracts/shop/orders/v1/events_pb.js";
import { PaymentAuthorizedSchema, PaymentCapturedSchema, PaymentDeclinedSchema } from "@shop/contracts/shop/payments/v1/events_pb.js";
import { ShipmentCreatedSchema } from "@shop/contracts/shop/shipping/v1/events_pb.js";
import { describe, expect, it } from "vitest";
import { type CheckoutState, checkoutViolations } from "./checkout-invariants.js";

const mug = "00000000-0000-4000-8000-00000000000a";
const bag = "00000000-0000-4000-8000-00000000000b";
const confirmed = "00000000-0000-4000-8000-0000000000c1";
const declined = "00000000-0000-4000-8000-0000000000c2";
const user = "00000000-0000-4000-8000-0000000000d1";
const event = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, "0")}`;

const initialStock = new Map([
  [mug, 1000],
  [bag, 500],
]);

/** One confirmed order (two mugs) and one declined (a bag), every service agreeing, every event applied once. */
function consistentState(): CheckoutState {
  return {
    orders: [
      {
        id: confirmed,
        userId: user,
        status: "CONFIRMED",
        cancellationReason: "",
        currency: "USD",
        totalMinor: 2598n,
        paymentToken: "tok_visa",
        items: [{ productId: mug, quantity: 2 }],
        sagaPhase: "CONFIRMED",
      },
      {
        id: declined,
        userId: user,
        status: "CANCELLED",
        cancellationReason: "PAYMENT_DECLINED",
        currency: "USD",
        totalMinor: 1999n,
        paymentToken: "tok_decline",
        items: [{ productId: bag, quantity: 1 }],
        sagaPhase: "CANCELLED",
      },
    ],
    payments: [
      { orderId: confirmed, status: "CAPTURED", currency: "USD", amountMinor: 2598n },
      { orderId: declined, status: "DECLINED", currency: "USD", amountMinor: 1999n },
    ],
    paymentEvents: [
      { orderId: confirmed, type: "AUTHORIZED", amountMinor: 2598n },
      { orderId: confirmed, type: "CAPTURED", amountMinor: 2598n },
      { orderId: declined, type: "DECLINED", amountMinor: 1999n },
    ],
    unfoldablePayments: [],
    stock: [
      { productId: mug, available: 998, reserved: 0, committed: 2 },
      { productId: bag, available: 500, reserved: 0, committed: 0 },
    ],
    reservations: [{ orderId: confirmed, status: "COMMITTED", items: [{ productId: mug, quantity: 2 }] }],
    shipments: [{ orderId: confirmed, status: "CREATED" }],
    orderHistory: [
      { orderId: confirmed, status: "CONFIRMED", totalMinor: 2598n },
      { orderId: declined, status: "CANCELLED", totalMinor: 1999n },
    ],
    outbox: {
      orders: [
        { id: event(1), type: OrderPlacedSchema.typeName, sent: true },
        { id: event(2), type: OrderPricedSchema.typeName, sent: true },
        { id: event(3), type: OrderConfirmedSchema.typeName, sent: true },
        { id: event(4), type: OrderPlacedSchema.typeName, sent: true },
        { id: event(5), type: OrderPricedSchema.typeName, sent: true },
        { id: event(6), type: OrderCancelledSchema.typeName, sent: true },
      ],
      payments: [
        { id: event(7), type: PaymentAuthorizedSchema.typeName, sent: true },
        { id: event(8), type: PaymentCapturedSchema.typeName, sent: true },
        { id: event(9), type: PaymentDeclinedSchema.typeName, sent: true },
      ],
      shipping: [{ id: event(10), type: ShipmentCreatedSchema.typeName, sent: true }],
    },
    inbox: { orderHistory: [1, 2, 3, 4, 5, 6].map(event), notifications: [3, 6, 10].map(event) },
    notifications: [
      { sourceEventId: event(3), kind: "order_confirmed", orderId: confirmed },
      { sourceEventId: event(6), kind: "order_cancelled", orderId: declined },
      { sourceEventId: event(10), kind: "shipment_created", orderId: confirmed },
    ],
  };
}

/** The invariants a state breaks, by name. */
function broken(change: (state: CheckoutState) => void): string[] {
  const state = consistentState();
  change(state);
  return checkoutViolations(state, initialStock).map((line) => line.slice(0, line.indexOf(":")));
}

const orderIn = (state: CheckoutState, id: string) => state.orders.find((o) => o.id === id)!;
const paymentIn = (state: CheckoutState, id: string) => state.payments.find((p) => p.orderId === id)!;

describe("checkout invariants", () => {
  it("all hold when the services agree", () => {
    expect(checkoutViolations(consistentState(), initialStock)).toEqual([]);
  });

  it("name the orders concerned", () => {
    const state = consistentState();
    orderIn(state, declined).status = "PENDING";
    orderIn(state, declined).sagaPhase = "FORWARD";
    expect(checkoutViolations(state, initialStock)).toContain(`orders not final (PENDING): 1 (${declined})`);
  });

  it("catch a capture for a cancelled order and money that does not add up", () => {
    expect(
      broken((s) => {
        paymentIn(s, declined).status = "CAPTURED";
      }),
    ).toEqual(["CAPTURED payments of orders that are not confirmed", "captured money equals the totals of confirmed orders"]);
  });

  it("catch a capture of the wrong amount", () => {
    expect(
      broken((s) => {
        paymentIn(s, confirmed).amountMinor = 2599n;
      }),
    ).toEqual(["captured amount differs from the confirmed order's total", "captured money equals the totals of confirmed orders"]);
  });

  it("catch an authorization left open and a confirmed order never captured", () => {
    expect(
      broken((s) => {
        paymentIn(s, confirmed).status = "AUTHORIZED";
      }),
    ).toEqual([
      "confirmed orders without a CAPTURED payment",
      "authorizations left open (AUTHORIZED) for a final order",
      "captured money equals the totals of confirmed orders",
    ]);
  });

  it("catch money the ledger's events moved that no confirmed order accounts for", () => {
    expect(
      broken((s) => {
        s.paymentEvents.push({ orderId: confirmed, type: "REFUNDED", amountMinor: 2598n });
      }),
    ).toEqual(["money captured less money refunded, by the ledger's events, equals the totals of confirmed orders"]);
    expect(
      broken((s) => {
        s.paymentEvents.push({ orderId: declined, type: "CAPTURED", amountMinor: 1999n });
      }),
    ).toEqual(["money captured less money refunded, by the ledger's events, equals the totals of confirmed orders"]);
  });

  it("catch a payment stream that does not fold", () => {
    expect(
      broken((s) => {
        s.unfoldablePayments.push(`${declined}: a CAPTURED event cannot follow a DECLINED payment`);
      }),
    ).toEqual(["payment streams that do not fold"]);
  });

  it("catch stock that appeared or vanished", () => {
    expect(
      broken((s) => {
        s.stock[0]!.available = 999;
      }),
    ).toEqual(["stock not conserved (available + reserved + committed != initial)"]);
  });

  it("catch a cancelled order still holding its reservation", () => {
    expect(
      broken((s) => {
        s.reservations.push({ orderId: declined, status: "RESERVED", items: [{ productId: bag, quantity: 1 }] });
        s.stock[1] = { productId: bag, available: 499, reserved: 1, committed: 0 };
      }),
    ).toEqual(["reservations still held (RESERVED) by a final order"]);
  });

  it("catch stock columns that disagree with the reservations", () => {
    expect(
      broken((s) => {
        s.stock[0] = { productId: mug, available: 998, reserved: 2, committed: 0 };
      }),
    ).toEqual(["stock columns disagree with the reservations"]);
  });

  it("catch a confirmed order whose stock was released, and a commit for a cancelled order", () => {
    expect(
      broken((s) => {
        s.reservations[0]!.status = "RELEASED";
        s.reservations.push({ orderId: declined, status: "COMMITTED", items: [] });
        s.stock[0] = { productId: mug, available: 1000, reserved: 0, committed: 0 };
      }),
    ).toEqual([
      "confirmed orders whose reservation is not COMMITTED with the order's items",
      "COMMITTED reservations of orders that are not confirmed",
    ]);
  });

  it("catch a missing shipment and a live shipment of a cancelled order", () => {
    expect(
      broken((s) => {
        s.shipments = [{ orderId: declined, status: "CREATED" }];
      }),
    ).toEqual(["confirmed orders without a CREATED shipment", "live shipments (CREATED or DISPATCHED) of cancelled orders"]);
  });

  it("catch an unsent outbox row and an event the order history never applied", () => {
    expect(
      broken((s) => {
        s.outbox.orders[5]!.sent = false;
        s.inbox.orderHistory.pop();
        s.orderHistory[1]!.status = "PENDING";
      }),
    ).toEqual([
      "unsent orders outbox rows",
      "orders events the order history never applied",
      "order history disagrees with the order (status or total)",
    ]);
  });

  it("catch a notification made twice and one made from no event", () => {
    expect(
      broken((s) => {
        s.notifications.push({ sourceEventId: event(99), kind: "order_confirmed", orderId: confirmed });
        s.inbox.notifications.push(event(99));
      }),
    ).toEqual(["notifications of unknown events", "orders notified more than once of the same thing"]);
  });

  it("catch a notification of the wrong kind", () => {
    expect(
      broken((s) => {
        s.notifications[1]!.kind = "order_confirmed";
      }),
    ).toEqual(["notifications whose kind differs from their event"]);
  });

  it("catch an event applied by the inbox without its notification", () => {
    expect(
      broken((s) => {
        s.notifications.pop();
      }),
    ).toEqual(["notifiable events without exactly one notification", "notifications inbox entries without their notification"]);
  });
});
