import { OrderCancelledSchema, OrderConfirmedSchema } from "@shop/contracts/shop/orders/v1/events_pb.js";
import { PaymentRefundedSchema } from "@shop/contracts/shop/payments/v1/events_pb.js";
import { ShipmentCreatedSchema } from "@shop/contracts/shop/shipping/v1/events_pb.js";
import { EventStore, type RecordedEvent, startOfAllStreams } from "@shop/runtime";
import { paymentStreamType } from "../../services/payments/src/db/payments.js";
import { foldPayment, type PaymentEvent } from "../../services/payments/src/domain/payment.js";
import type { ServiceDatabases } from "./databases.js";

/**
 * What the saga and the events promise about checkouts (docs/architecture.md), checked on the services' own databases once
 * the system is quiet: every order final, money and stock adding up, every event applied
 * exactly once. Reading (`readCheckoutState`) is apart from judging (`checkoutViolations`),
 * which returns one line per broken invariant naming the orders or events concerned.
 */

export interface OrderRow {
  id: string;
  userId: string;
  status: "PENDING" | "CONFIRMED" | "CANCELLED";
  cancellationReason: string;
  currency: string;
  totalMinor: bigint;
  paymentToken: string;
  items: { productId: string; quantity: number }[];
  sagaPhase: string;
}

export interface CheckoutState {
  orders: OrderRow[];
  /** Each payment as the fold of its stream in the payments ledger. */
  payments: { orderId: string; status: string; currency: string | null; amountMinor: bigint | null }[];
  /** The money events of the ledger, in stream order. */
  paymentEvents: { orderId: string; type: string; amountMinor: bigint | null }[];
  /** Payment streams whose events do not fold, with why. */
  unfoldablePayments: string[];
  stock: { productId: string; available: number; reserved: number; committed: number }[];
  reservations: { orderId: string; status: string; items: { productId: string; quantity: number }[] }[];
  shipments: { orderId: string; status: string }[];
  orderHistory: { orderId: string; status: string; totalMinor: bigint | null }[];
  /** Outbox rows of the services that publish events. */
  outbox: Record<EventPublisher, { id: string; type: string; sent: boolean }[]>;
  /** Event ids in each consumer's inbox. */
  inbox: { orderHistory: string[]; notifications: string[] };
  notifications: { sourceEventId: string; kind: string; orderId: string }[];
}

export const eventPublishers = ["orders", "payments", "shipping"] as const;
export type EventPublisher = (typeof eventPublishers)[number];

export interface ConsumerNames {
  /** ORDER_HISTORY_CONSUMER of orders. */
  orderHistory: string;
  notifications: string;
}

/** The event types notifications turns into a message, by the notification kind they make. */
const notifiedTypes: Record<string, string> = {
  [OrderConfirmedSchema.typeName]: "order_confirmed",
  [OrderCancelledSchema.typeName]: "order_cancelled",
  [ShipmentCreatedSchema.typeName]: "shipment_created",
  [PaymentRefundedSchema.typeName]: "payment_refunded",
};

const bigintOrNull = (value: string | null) => (value === null ? null : BigInt(value));

function groupItems<R extends { key: string; productId: string; quantity: number }>(
  rows: R[],
): Map<string, { productId: string; quantity: number }[]> {
  const grouped = new Map<string, { productId: string; quantity: number }[]>();
  for (const { key, productId, quantity } of rows) {
    const items = grouped.get(key) ?? [];
    items.push({ productId, quantity });
    grouped.set(key, items);
  }
  return grouped;
}

/** Every stream of the payments ledger, folded with payments' own fold. */
async function readPaymentLedger(db: ServiceDatabases): Promise<Pick<CheckoutState, "payments" | "paymentEvents" | "unfoldablePayments">> {
  const ledger = new EventStore(paymentStreamType(1));
  const streams = new Map<string, RecordedEvent<PaymentEvent>[]>();
  for (let after = startOfAllStreams; ; ) {
    const page = await ledger.readAll(db.sqlOf("payments"), after);
    for (const recorded of page) streams.set(recorded.streamId, [...(streams.get(recorded.streamId) ?? []), recorded]);
    if (page.length === 0) break;
    after = page[page.length - 1]!.globalPosition;
  }
  const payments: CheckoutState["payments"] = [];
  const unfoldablePayments: string[] = [];
  const events = [...streams.values()].map((stream) => stream.sort((a, b) => a.version - b.version).map((recorded) => recorded.event));
  for (const stream of events) {
    try {
      const payment = foldPayment(stream)!;
      payments.push({ orderId: payment.orderId, status: payment.status, currency: payment.currency, amountMinor: payment.amountMinor });
    } catch (err) {
      unfoldablePayments.push(`${stream[0]!.orderId}: ${(err as Error).message}`);
    }
  }
  const paymentEvents = events
    .flat()
    .map((event) => ({ orderId: event.orderId, type: event.type, amountMinor: event.amount?.amountMinor ?? null }));
  return { payments, paymentEvents, unfoldablePayments };
}

/** Everything the invariants look at, read from the databases of orders, payments, inventory, shipping and notifications. */
export async function readCheckoutState(db: ServiceDatabases, consumers: ConsumerNames): Promise<CheckoutState> {
  const outboxOf = (context: EventPublisher) =>
    db.query<{ id: string; type: string; sent: boolean }>(context, `SELECT id::text, type, sent_at IS NOT NULL AS sent FROM outbox_events`);
  const inboxOf = async (context: "orders" | "notifications", consumer: string) =>
    (await db.query<{ event_id: string }>(context, `SELECT event_id::text FROM inbox_events WHERE consumer = $1`, [consumer])).map(
      (row) => row.event_id,
    );

  const [orders, orderItems, ledger, stock, reservations, reservationItems, shipments, orderHistory, notifications] = await Promise.all([
    db.query<{
      id: string;
      user_id: string;
      status: OrderRow["status"];
      cancellation_reason: string;
      currency: string;
      total_minor: string;
      payment_token: string;
      phase: string;
    }>(
      "orders",
      `SELECT o.id::text, o.user_id, o.status::text, o.cancellation_reason, o.currency, o.total_minor::text, o.payment_token, s.phase::text
         FROM orders o LEFT JOIN checkout_sagas s ON s.order_id = o.id`,
    ),
    db.query<{ key: string; productId: string; quantity: number }>(
      "orders",
      `SELECT order_id::text AS key, product_id::text AS "productId", quantity FROM order_items`,
    ),
    readPaymentLedger(db),
    db.query<{ productId: string; available: number; reserved: number; committed: number }>(
      "inventory",
      `SELECT product_id::text AS "productId", available, reserved, committed FROM stock`,
    ),
    db.query<{ order_id: string; status: string }>("inventory", `SELECT order_id::text, status::text FROM reservations`),
    db.query<{ key: string; productId: string; quantity: number }>(
      "inventory",
      `SELECT order_id::text AS key, product_id::text AS "productId", quantity FROM reservation_items`,
    ),
    db.query<{ orderId: string; status: string }>("shipping", `SELECT order_id::text AS "orderId", status::text FROM shipments`),
    db.query<{ orderId: string; status: string; total: string | null }>(
      "orders",
      `SELECT order_id::text AS "orderId", status::text, "order"->'total'->>'amountMinor' AS total FROM order_history`,
    ),
    db.query<{ sourceEventId: string; kind: string; orderId: string }>(
      "notifications",
      `SELECT source_event_id::text AS "sourceEventId", kind::text, order_id::text AS "orderId" FROM notifications`,
    ),
  ]);
  const [ordersOutbox, paymentsOutbox, shippingOutbox, historyInbox, notificationsInbox] = await Promise.all([
    outboxOf("orders"),
    outboxOf("payments"),
    outboxOf("shipping"),
    inboxOf("orders", consumers.orderHistory),
    inboxOf("notifications", consumers.notifications),
  ]);

  const itemsOfOrder = groupItems(orderItems);
  const itemsOfReservation = groupItems(reservationItems);
  return {
    orders: orders.map((row) => ({
      id: row.id,
      userId: row.user_id,
      status: row.status,
      cancellationReason: row.cancellation_reason,
      currency: row.currency,
      totalMinor: BigInt(row.total_minor),
      paymentToken: row.payment_token,
      items: itemsOfOrder.get(row.id) ?? [],
      sagaPhase: row.phase,
    })),
    ...ledger,
    stock,
    reservations: reservations.map((row) => ({
      orderId: row.order_id,
      status: row.status,
      items: itemsOfReservation.get(row.order_id) ?? [],
    })),
    shipments,
    orderHistory: orderHistory.map((row) => ({ orderId: row.orderId, status: row.status, totalMinor: bigintOrNull(row.total) })),
    outbox: { orders: ordersOutbox, payments: paymentsOutbox, shipping: shippingOutbox },
    inbox: { orderHistory: historyInbox, notifications: notificationsInbox },
    notifications,
  };
}

/** Collects violations: `fail(invariant, ids)` records one line when `ids` is not empty. */
class Findings {
  readonly lines: string[] = [];

  fail(invariant: string, ids: Iterable<string>): void {
    const list = [...ids];
    if (list.length === 0) return;
    const shown = list.slice(0, 5).join(", ");
    this.lines.push(`${invariant}: ${list.length} (${shown}${list.length > 5 ? ", ..." : ""})`);
  }

  check(invariant: string, holds: boolean, detail: string): void {
    if (!holds) this.lines.push(`${invariant}: ${detail}`);
  }
}

const sameItems = (a: { productId: string; quantity: number }[], b: { productId: string; quantity: number }[]) => {
  const key = (items: typeof a) => JSON.stringify([...items].sort((x, y) => x.productId.localeCompare(y.productId)));
  return key(a) === key(b);
};

function checkOrders(state: CheckoutState, findings: Findings): void {
  findings.fail(
    "orders not final (PENDING)",
    state.orders.filter((o) => o.status === "PENDING").map((o) => o.id),
  );
  findings.fail(
    "saga phase disagrees with the final order status",
    state.orders.filter((o) => o.status !== "PENDING" && o.sagaPhase !== o.status).map((o) => `${o.id} ${o.status}/${o.sagaPhase}`),
  );
  findings.fail(
    "cancelled orders without a reason",
    state.orders.filter((o) => o.status === "CANCELLED" && !o.cancellationReason).map((o) => o.id),
  );
}

function checkMoney(state: CheckoutState, findings: Findings): void {
  const orders = new Map(state.orders.map((o) => [o.id, o]));
  const paymentOf = new Map(state.payments.map((p) => [p.orderId, p]));
  const confirmed = state.orders.filter((o) => o.status === "CONFIRMED");
  const captured = state.payments.filter((p) => p.status === "CAPTURED");

  findings.fail(
    "confirmed orders without a CAPTURED payment",
    confirmed.filter((o) => paymentOf.get(o.id)?.status !== "CAPTURED").map((o) => o.id),
  );
  findings.fail(
    "captured amount differs from the confirmed order's total",
    confirmed
      .filter((o) => {
        const payment = paymentOf.get(o.id);
        return payment?.status === "CAPTURED" && (payment.amountMinor !== o.totalMinor || payment.currency !== o.currency);
      })
      .map((o) => o.id),
  );
  findings.fail(
    "CAPTURED payments of orders that are not confirmed",
    captured.filter((p) => orders.get(p.orderId)?.status !== "CONFIRMED").map((p) => p.orderId),
  );
  findings.fail(
    "authorizations left open (AUTHORIZED) for a final order",
    state.payments.filter((p) => p.status === "AUTHORIZED" && orders.get(p.orderId)?.status !== "PENDING").map((p) => p.orderId),
  );
  findings.fail(
    "payments of orders that do not exist",
    state.payments.filter((p) => !orders.has(p.orderId)).map((p) => p.orderId),
  );

  findings.fail("payment streams that do not fold", state.unfoldablePayments);

  const capturedTotal = captured.reduce((sum, p) => sum + (p.amountMinor ?? 0n), 0n);
  const confirmedTotal = confirmed.reduce((sum, o) => sum + o.totalMinor, 0n);
  findings.check(
    "captured money equals the totals of confirmed orders",
    capturedTotal === confirmedTotal,
    `captured ${capturedTotal}, confirmed ${confirmedTotal}`,
  );
  // The same money counted from the ledger's events rather than from the folded states.
  const moved = (type: string) =>
    state.paymentEvents.filter((event) => event.type === type).reduce((sum, event) => sum + (event.amountMinor ?? 0n), 0n);
  const netCaptured = moved("CAPTURED") - moved("REFUNDED");
  findings.check(
    "money captured less money refunded, by the ledger's events, equals the totals of confirmed orders",
    netCaptured === confirmedTotal,
    `captured ${moved("CAPTURED")}, refunded ${moved("REFUNDED")}, confirmed ${confirmedTotal}`,
  );
}

function checkStock(state: CheckoutState, initialStock: ReadonlyMap<string, number>, findings: Findings): void {
  const orders = new Map(state.orders.map((o) => [o.id, o]));
  const reservationOf = new Map(state.reservations.map((r) => [r.orderId, r]));
  const stockOf = new Map(state.stock.map((s) => [s.productId, s]));

  findings.fail(
    "stock not conserved (available + reserved + committed != initial)",
    [...initialStock]
      .filter(([productId, units]) => {
        const s = stockOf.get(productId);
        return !s || s.available + s.reserved + s.committed !== units;
      })
      .map(([productId, units]) => {
        const s = stockOf.get(productId);
        return `${productId} initial ${units}, now ${s ? `${s.available}+${s.reserved}+${s.committed}` : "missing"}`;
      }),
  );
  const heldBy = (status: string) => {
    const units = new Map<string, number>();
    for (const r of state.reservations.filter((r) => r.status === status)) {
      for (const item of r.items) units.set(item.productId, (units.get(item.productId) ?? 0) + item.quantity);
    }
    return units;
  };
  const reservedUnits = heldBy("RESERVED");
  const committedUnits = heldBy("COMMITTED");
  findings.fail(
    "stock columns disagree with the reservations",
    state.stock
      .filter((s) => s.reserved !== (reservedUnits.get(s.productId) ?? 0) || s.committed !== (committedUnits.get(s.productId) ?? 0))
      .map((s) => s.productId),
  );
  findings.fail(
    "reservations still held (RESERVED) by a final order",
    state.reservations.filter((r) => r.status === "RESERVED" && orders.get(r.orderId)?.status !== "PENDING").map((r) => r.orderId),
  );
  findings.fail(
    "confirmed orders whose reservation is not COMMITTED with the order's items",
    state.orders
      .filter((o) => o.status === "CONFIRMED")
      .filter((o) => {
        const r = reservationOf.get(o.id);
        return r?.status !== "COMMITTED" || !sameItems(r.items, o.items);
      })
      .map((o) => o.id),
  );
  findings.fail(
    "COMMITTED reservations of orders that are not confirmed",
    state.reservations.filter((r) => r.status === "COMMITTED" && orders.get(r.orderId)?.status !== "CONFIRMED").map((r) => r.orderId),
  );
}

function checkShipping(state: CheckoutState, findings: Findings): void {
  const orders = new Map(state.orders.map((o) => [o.id, o]));
  const shipmentOf = new Map(state.shipments.map((s) => [s.orderId, s]));
  findings.fail(
    "confirmed orders without a CREATED shipment",
    state.orders.filter((o) => o.status === "CONFIRMED" && shipmentOf.get(o.id)?.status !== "CREATED").map((o) => o.id),
  );
  findings.fail(
    "live shipments (CREATED or DISPATCHED) of cancelled orders",
    state.shipments.filter((s) => s.status !== "CANCELLED" && orders.get(s.orderId)?.status === "CANCELLED").map((s) => s.orderId),
  );
}

function checkEvents(state: CheckoutState, findings: Findings): void {
  for (const publisher of eventPublishers) {
    findings.fail(
      `unsent ${publisher} outbox rows`,
      state.outbox[publisher].filter((row) => !row.sent).map((row) => row.id),
    );
  }

  // The order history consumer handles every orders event: its inbox must hold exactly the orders outbox.
  const ordersEvents = new Set(state.outbox.orders.map((row) => row.id));
  const historyInbox = new Set(state.inbox.orderHistory);
  findings.fail(
    "orders events the order history never applied",
    [...ordersEvents].filter((id) => !historyInbox.has(id)),
  );
  findings.fail(
    "order history inbox entries of unknown events",
    [...historyInbox].filter((id) => !ordersEvents.has(id)),
  );

  const orders = new Map(state.orders.map((o) => [o.id, o]));
  const historyOf = new Map(state.orderHistory.map((h) => [h.orderId, h]));
  findings.fail(
    "orders missing from the order history",
    state.orders.filter((o) => !historyOf.has(o.id)).map((o) => o.id),
  );
  findings.fail(
    "order history rows of unknown orders",
    state.orderHistory.filter((h) => !orders.has(h.orderId)).map((h) => h.orderId),
  );
  findings.fail(
    "order history disagrees with the order (status or total)",
    state.orders
      .filter((o) => {
        const h = historyOf.get(o.id);
        return h && (h.status !== o.status || (o.totalMinor > 0n && h.totalMinor !== o.totalMinor));
      })
      .map((o) => `${o.id} ${o.status}/${historyOf.get(o.id)!.status}`),
  );

  // Notifications: exactly one message per notifiable event, each recorded in the inbox.
  const notifiable = new Map<string, string>();
  for (const publisher of eventPublishers) {
    for (const row of state.outbox[publisher]) {
      const kind = notifiedTypes[row.type];
      if (kind) notifiable.set(row.id, kind);
    }
  }
  const notificationInbox = new Set(state.inbox.notifications);
  const notified = new Map<string, number>();
  for (const n of state.notifications) notified.set(n.sourceEventId, (notified.get(n.sourceEventId) ?? 0) + 1);
  findings.fail(
    "notifiable events without exactly one notification",
    [...notifiable.keys()].filter((id) => notified.get(id) !== 1),
  );
  findings.fail(
    "notifications of unknown events",
    [...notified.keys()].filter((id) => !notifiable.has(id)),
  );
  findings.fail(
    "notifications whose kind differs from their event",
    state.notifications
      .filter((n) => notifiable.has(n.sourceEventId) && notifiable.get(n.sourceEventId) !== n.kind)
      .map((n) => n.sourceEventId),
  );
  findings.fail(
    "notifications not recorded in the notifications inbox",
    [...notified.keys()].filter((id) => !notificationInbox.has(id)),
  );
  findings.fail(
    "notifications inbox entries without their notification",
    [...notificationInbox].filter((id) => notifiable.has(id) && !notified.has(id)),
  );
  const perOrderAndKind = new Map<string, number>();
  for (const n of state.notifications)
    perOrderAndKind.set(`${n.orderId} ${n.kind}`, (perOrderAndKind.get(`${n.orderId} ${n.kind}`) ?? 0) + 1);
  findings.fail(
    "orders notified more than once of the same thing",
    [...perOrderAndKind].filter(([, count]) => count > 1).map(([key]) => key),
  );
}

/**
 * Every broken invariant, one line each; empty when all hold. `initialStock` is the units per
 * product (available + reserved + committed) before the first order.
 */
export function checkoutViolations(state: CheckoutState, initialStock: ReadonlyMap<string, number>): string[] {
  const findings = new Findings();
  checkOrders(state, findings);
  checkMoney(state, findings);
  checkStock(state, initialStock, findings);
  checkShipping(state, findings);
  checkEvents(state, findings);
  return findings.lines;
}
