import { eventsInStatement, type OutboxEntry, outboxWrittenAt, type SqlDatabase } from "@shop/runtime";
import {
  type CancellationReason,
  IdempotencyKeyReusedError,
  type Money,
  type NewOrder,
  type Order,
  type OrderLine,
  type OrderStatus,
  placedBy,
  type ShippingAddress,
} from "../domain/order.js";
import type { SagaPhase } from "../saga/checkout-saga.js";
import type { PricedOrder } from "../saga/pricing.js";

/** One row per item, with the order's columns repeated: an order and its items in one round trip. */
interface OrderItemRow {
  id: string;
  user_id: string;
  status: OrderStatus;
  currency: string;
  total_minor: bigint;
  cancellation_reason: string;
  shipping_address: ShippingAddress;
  payment_token: string;
  created_at: Date;
  updated_at: Date;
  product_id: string | null;
  quantity: number | null;
  name: string | null;
  unit_price_minor: bigint | null;
}

const selectOrder = `
  SELECT o.id, o.user_id, o.status, o.currency, o.total_minor, o.cancellation_reason, o.shipping_address,
         o.payment_token, o.created_at, o.updated_at, i.product_id, i.quantity, i.name, i.unit_price_minor
  FROM orders o LEFT JOIN order_items i ON i.order_id = o.id`;

/** The order the rows of `selectOrder` describe; undefined when there are none. */
function orderFromRows(rows: OrderItemRow[]): Order | undefined {
  const [row] = rows;
  if (!row) return undefined;
  const priced = row.currency !== "";
  const money = (amountMinor: bigint) => ({ currency: row.currency, amountMinor });
  return {
    id: row.id,
    userId: row.user_id,
    status: row.status,
    items: rows
      .filter((item) => item.product_id !== null)
      .map(
        (item): OrderLine => ({
          productId: item.product_id!,
          quantity: item.quantity!,
          name: item.name!,
          unitPrice: priced ? money(item.unit_price_minor!) : null,
          lineTotal: priced ? money(item.unit_price_minor! * BigInt(item.quantity!)) : null,
        }),
      ),
    total: priced ? money(row.total_minor) : null,
    cancellationReason: row.cancellation_reason as CancellationReason | "",
    shippingAddress: row.shipping_address,
    paymentToken: row.payment_token,
    createTime: row.created_at,
    updateTime: row.updated_at,
  };
}

/** A saga inserted already held by the runner that will run it, for `leaseMs`. */
export interface SagaLease {
  owner: string;
  leaseMs: number;
}

/** Where the work of a new order came from, so its saga carries the same correlation id and trace. */
export interface WorkOrigin {
  correlationId: string;
  traceparent?: string;
  tracestate?: string;
}

/** Where a customer's cancellation request stands. */
export interface CancellationState {
  phase: SagaPhase;
  cancelRequested: boolean;
  cancelRejection: string;
}

/** The events that announce changes of an order, encoded for the outbox (the events module has them). */
export interface OrderAnnouncements {
  placed(order: Order): OutboxEntry;
  priced(order: { id: string; userId: string }, priced: PricedOrder, at: Date): OutboxEntry;
  confirmed(order: { id: string; userId: string }, total: Money, at: Date): OutboxEntry;
  cancelled(order: { id: string; userId: string }, reason: CancellationReason, at: Date): OutboxEntry;
}

/** Orders in SQL: the write model of the orders service. */
export class OrderRepository {
  constructor(
    private readonly db: SqlDatabase,
    private readonly announce: OrderAnnouncements,
  ) {}

  /**
   * Stores a PENDING order, its items, its saga (held under `lease` if given) and its OrderPlaced
   * event in one statement.
   * With an idempotency key already used by the same user, returns that user's first order
   * instead (IdempotencyKeyReusedError when the request differs); a concurrent request with the
   * same key waits for this one's commit, then finds it.
   */
  async place(order: NewOrder, origin: WorkOrigin, lease?: SagaLease): Promise<{ order: Order; created: boolean }> {
    const now = new Date();
    const placed: Order = {
      id: order.id,
      userId: order.userId,
      status: "PENDING",
      items: order.items.map((item) => ({ ...item, name: "", unitPrice: null, lineTotal: null })),
      total: null,
      cancellationReason: "",
      shippingAddress: order.shippingAddress,
      paymentToken: order.paymentToken,
      createTime: now,
      updateTime: now,
    };
    const values = [
      order.id,
      order.userId,
      JSON.stringify(order.shippingAddress),
      order.paymentToken,
      order.idempotencyKey ?? null,
      now,
      order.items.map((item) => item.productId),
      order.items.map((item) => item.quantity),
      origin.correlationId,
      origin.traceparent ?? null,
      origin.tracestate ?? null,
      lease?.owner ?? null,
      lease?.leaseMs ?? null,
    ];
    const events = eventsInStatement([this.announce.placed(placed)], values.length + 1, "EXISTS (SELECT 1 FROM placed)");
    // One statement: atomic without a transaction, one round trip.
    const [row] = await this.db.query<{ placed: number; outbox_written_at: Date | null }>(
      `WITH placed AS (
         INSERT INTO orders (id, user_id, shipping_address, payment_token, idempotency_key, created_at, updated_at)
         VALUES ($1::uuid, $2, $3::jsonb, $4, $5, $6, $6)
         ON CONFLICT (user_id, idempotency_key) DO NOTHING
         RETURNING id),
       items AS (
         INSERT INTO order_items (order_id, position, product_id, quantity)
         SELECT placed.id, item.position - 1, item.product_id, item.quantity
         FROM placed, unnest($7::uuid[], $8::int[]) WITH ORDINALITY AS item(product_id, quantity, position)),
       saga AS (
         INSERT INTO checkout_sagas (order_id, correlation_id, traceparent, tracestate, lease_owner, lease_until, created_at, updated_at)
         SELECT id, $9, $10, $11, $12, $6::timestamptz + $13::int * interval '1 millisecond', $6, $6 FROM placed),
       ${events.cte}
       SELECT (SELECT count(*) FROM placed)::int AS placed, ${outboxWrittenAt}`,
      [...values, ...events.values],
    );
    events.written(this.db, row?.outbox_written_at);
    const created = row?.placed === 1;
    if (created) return { order: placed, created: true };
    const earlier = await this.findByIdempotencyKey(order.userId, order.idempotencyKey!);
    if (!earlier) throw new Error(`order with idempotency key ${order.idempotencyKey} conflicted but was not found`);
    if (!placedBy(earlier, order)) throw new IdempotencyKeyReusedError(order.idempotencyKey!);
    return { order: earlier, created: false };
  }

  async get(id: string): Promise<Order | null> {
    return orderFromRows(await this.db.query<OrderItemRow>(`${selectOrder} WHERE o.id = $1::uuid ORDER BY i.position`, [id])) ?? null;
  }

  private async findByIdempotencyKey(userId: string, idempotencyKey: string): Promise<Order | null> {
    const rows = await this.db.query<OrderItemRow>(`${selectOrder} WHERE o.user_id = $1 AND o.idempotency_key = $2 ORDER BY i.position`, [
      userId,
      idempotencyKey,
    ]);
    return orderFromRows(rows) ?? null;
  }

  /**
   * Records a customer's wish to cancel; the saga acts on it at its next step boundary.
   * Touches only the saga row, so it never waits on a runner's transaction for long.
   */
  async requestCancellation(orderId: string): Promise<boolean> {
    const count = await this.db.execute(
      `UPDATE checkout_sagas SET cancel_requested = true, cancel_rejection = '' WHERE order_id = $1::uuid AND phase <> 'CANCELLED'`,
      [orderId],
    );
    return count > 0;
  }

  async cancellationState(orderId: string): Promise<CancellationState | null> {
    const [row] = await this.db.query<{ phase: SagaPhase; cancel_requested: boolean; cancel_rejection: string }>(
      `SELECT phase, cancel_requested, cancel_rejection FROM checkout_sagas WHERE order_id = $1::uuid`,
      [orderId],
    );
    return row ? { phase: row.phase, cancelRequested: row.cancel_requested, cancelRejection: row.cancel_rejection } : null;
  }
}
