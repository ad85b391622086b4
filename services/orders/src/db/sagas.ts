import { eventsInStatement, type OutboxEntry, outboxWrittenAt, type SqlDatabase } from "@shop/runtime";
import type { CancellationReason, Money } from "../domain/order.js";
import type { Compensation, Effect, ForwardStep, SagaPhase, SagaState } from "../saga/checkout-saga.js";
import type { OrderAnnouncements } from "./orders.js";

/** A saga this runner holds the lease of, with what its steps need to carry along. */
export interface ClaimedSaga {
  orderId: string;
  state: SagaState;
  /** Failed attempts of the current action so far. */
  attempts: number;
  correlationId: string;
  traceparent?: string;
  tracestate?: string;
}

/** The runner's lease was taken over (it expired): its work on the saga must stop. */
export class LeaseLostError extends Error {
  constructor(orderId: string) {
    super(`lease on the saga of order ${orderId} was lost`);
    this.name = "LeaseLostError";
  }
}

interface SagaRow {
  order_id: string;
  phase: SagaPhase;
  step: ForwardStep | null;
  compensations: string[];
  reason: string | null;
  cancel_requested: boolean;
  cancel_rejection: string;
  attempts: number;
  correlation_id: string;
  traceparent: string | null;
  tracestate: string | null;
}

const sagaColumns = `order_id, phase, step, compensations, reason, cancel_requested, cancel_rejection, attempts, correlation_id, traceparent, tracestate`;

const claimedFrom = (row: SagaRow): ClaimedSaga => ({
  orderId: row.order_id,
  state: {
    phase: row.phase,
    step: row.step,
    compensations: row.compensations as Compensation[],
    reason: row.reason as CancellationReason | null,
    cancelRequested: row.cancel_requested,
    cancelRejection: row.cancel_rejection,
  },
  attempts: row.attempts,
  correlationId: row.correlation_id,
  traceparent: row.traceparent ?? undefined,
  tracestate: row.tracestate ?? undefined,
});

/** A saga needs a runner while it is under way, or when a cancellation reopens a confirmed one. */
const needsWork = `(phase IN ('FORWARD', 'COMPENSATING', 'CANCELLING') OR (phase = 'CONFIRMED' AND cancel_requested))`;

/** What a recorded step says about the saga row as it is now. */
export interface Recorded {
  /** A cancellation was requested that the recorded state does not know of yet. */
  cancelRequested: boolean;
}

/**
 * Saga progress and leases. A runner claims due sagas whose lease is free or expired
 * (`FOR UPDATE SKIP LOCKED`, so concurrent claimers never get the same row), extends the
 * lease with every step it records and while a step runs, and every write is guarded by
 * `lease_owner`, so a runner whose lease was taken over cannot record anything.
 */
export class SagaStore {
  constructor(
    private readonly db: SqlDatabase,
    private readonly announce: OrderAnnouncements,
  ) {}

  /** Claims up to `limit` due sagas, oldest due first. */
  async claimDue(owner: string, leaseMs: number, limit: number): Promise<ClaimedSaga[]> {
    const rows = await this.db.query<SagaRow>(
      `UPDATE checkout_sagas SET lease_owner = $1, lease_until = now() + $2::int * interval '1 millisecond'
       WHERE order_id IN (
         SELECT order_id FROM checkout_sagas
         WHERE ${needsWork} AND next_run_at <= now() AND (lease_until IS NULL OR lease_until < now())
         ORDER BY next_run_at LIMIT $3
         FOR UPDATE SKIP LOCKED)
       RETURNING ${sagaColumns}`,
      [owner, leaseMs, limit],
    );
    return rows.map(claimedFrom);
  }

  /** Claims one saga if it is due and free. */
  async claim(owner: string, leaseMs: number, orderId: string): Promise<ClaimedSaga | undefined> {
    const rows = await this.db.query<SagaRow>(
      `UPDATE checkout_sagas SET lease_owner = $1, lease_until = now() + $2::int * interval '1 millisecond'
       WHERE order_id IN (
         SELECT order_id FROM checkout_sagas
         WHERE order_id = $3::uuid AND ${needsWork} AND next_run_at <= now() AND (lease_until IS NULL OR lease_until < now())
         FOR UPDATE SKIP LOCKED)
       RETURNING ${sagaColumns}`,
      [owner, leaseMs, orderId],
    );
    return rows.map(claimedFrom)[0];
  }

  /** Extends the lease; false when it was taken over. */
  async renew(owner: string, leaseMs: number, orderId: string): Promise<boolean> {
    const count = await this.db.execute(
      `UPDATE checkout_sagas SET lease_until = now() + $2::int * interval '1 millisecond' WHERE order_id = $3::uuid AND lease_owner = $1`,
      [owner, leaseMs, orderId],
    );
    return count > 0;
  }

  /**
   * Records the saga's next state, its effects on the order (status, price snapshot) and the
   * events announcing them, in one statement guarded by the lease. With `keepLeaseMs` the runner
   * goes on with the saga and its lease is extended by that much; without, the lease is released.
   */
  async record(
    owner: string,
    order: SagaOrder,
    loaded: SagaState,
    next: SagaState,
    effects: Effect[],
    keepLeaseMs?: number,
  ): Promise<Recorded> {
    const now = new Date();
    const values: unknown[] = [
      owner,
      order.id,
      next.phase,
      next.step,
      next.compensations,
      next.reason,
      next.cancelRejection,
      // A request CancelOrder made meanwhile must survive: the flag is only cleared when this state consumed it.
      loaded.cancelRequested && !next.cancelRequested,
      now,
      keepLeaseMs ?? null,
    ];
    let row: { cancel_requested: boolean; outbox_written_at?: Date | null } | undefined;
    if (effects.length === 0) {
      [row] = await this.db.query<{ cancel_requested: boolean }>(`${updateSaga} SELECT cancel_requested FROM saga`, values);
    } else {
      const change = orderChange(order, effects, now, this.announce);
      const events = eventsInStatement(change.events, values.length + change.values.length + 1, "EXISTS (SELECT 1 FROM saga)");
      [row] = await this.db.query<{ cancel_requested: boolean; outbox_written_at: Date | null }>(
        `${updateSaga}, ${updateOrder}, ${events.cte} SELECT cancel_requested, ${outboxWrittenAt} FROM saga`,
        [...values, ...change.values, ...events.values],
      );
      if (row) events.written(this.db, row.outbox_written_at);
    }
    if (!row) throw new LeaseLostError(order.id);
    return { cancelRequested: row.cancel_requested && !next.cancelRequested };
  }

  /** Leaves the state as it is and makes the saga due again after `delayMs`; releases the lease. */
  async retryLater(owner: string, orderId: string, attempts: number, delayMs: number): Promise<void> {
    const count = await this.db.execute(
      `UPDATE checkout_sagas
       SET attempts = $3, next_run_at = now() + $4::int * interval '1 millisecond', lease_owner = NULL, lease_until = NULL, updated_at = now()
       WHERE order_id = $2::uuid AND lease_owner = $1`,
      [owner, orderId, attempts, delayMs],
    );
    if (count === 0) throw new LeaseLostError(orderId);
  }

  /** Gives the saga back untouched, so another runner may take it at once. */
  async release(owner: string, orderId: string): Promise<void> {
    await this.db.execute(
      `UPDATE checkout_sagas SET lease_owner = NULL, lease_until = NULL WHERE order_id = $2::uuid AND lease_owner = $1`,
      [owner, orderId],
    );
  }
}

/** The order a saga works on, as far as recording its effects and their events needs it. */
export interface SagaOrder {
  id: string;
  userId: string;
  /** Its total once priced. */
  total: Money | null;
}

/** The saga row's new state, written only while `owner` holds the lease ($1-$10). */
const updateSaga = `WITH saga AS (
  UPDATE checkout_sagas
  SET phase = $3::"SagaPhase", step = $4::"SagaStep", compensations = $5::text[], reason = $6, cancel_rejection = $7,
      cancel_requested = cancel_requested AND NOT $8::boolean, attempts = 0,
      lease_owner = CASE WHEN $10::int IS NULL THEN NULL ELSE lease_owner END,
      lease_until = CASE WHEN $10::int IS NULL THEN NULL ELSE now() + $10::int * interval '1 millisecond' END,
      updated_at = $9
  WHERE order_id = $2::uuid AND lease_owner = $1
  RETURNING cancel_requested)`;

/**
 * The order's changes from a recorded step ($11-$16): price snapshot, total, final status and
 * reason, each left as it is when null (empty line arrays when not priced).
 */
const updateOrder = `order_changed AS (
  UPDATE orders
  SET currency = COALESCE($11, currency), total_minor = COALESCE($12, total_minor),
      status = COALESCE($13::"OrderStatus", status), cancellation_reason = COALESCE($14, cancellation_reason), updated_at = $9
  WHERE id = $2::uuid AND EXISTS (SELECT 1 FROM saga)),
lines_priced AS (
  UPDATE order_items SET name = line.name, unit_price_minor = line.unit_price_minor
  FROM unnest($15::text[], $16::int8[]) WITH ORDINALITY AS line(name, unit_price_minor, position)
  WHERE order_items.order_id = $2::uuid AND order_items.position = line.position - 1 AND EXISTS (SELECT 1 FROM saga))`;

/** The parameters of `updateOrder` for a step's effects, and the events that announce them. */
function orderChange(
  order: SagaOrder,
  effects: Effect[],
  now: Date,
  announce: OrderAnnouncements,
): { values: unknown[]; events: OutboxEntry[] } {
  let currency: string | null = null;
  let total: bigint | null = null;
  let status: "CONFIRMED" | "CANCELLED" | null = null;
  let reason: string | null = null;
  let names: string[] = [];
  let prices: bigint[] = [];
  let orderTotal = order.total;
  const events: OutboxEntry[] = [];
  for (const effect of effects) {
    switch (effect.kind) {
      case "priced":
        ({ currency, amountMinor: total } = effect.priced.total);
        names = effect.priced.lines.map((line) => line.name);
        prices = effect.priced.lines.map((line) => line.unitPrice!.amountMinor);
        orderTotal = effect.priced.total;
        events.push(announce.priced(order, effect.priced, now));
        break;
      case "confirmed":
        status = "CONFIRMED";
        if (!orderTotal) throw new Error(`order ${order.id} is confirmed without a total`);
        events.push(announce.confirmed(order, orderTotal, now));
        break;
      case "cancelled":
        status = "CANCELLED";
        reason = effect.reason;
        events.push(announce.cancelled(order, effect.reason, now));
        break;
    }
  }
  return { values: [currency, total, status, reason, names, prices], events };
}
