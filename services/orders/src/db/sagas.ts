import type { Sql, SqlDatabase } from "@shop/runtime";
import type { CancellationReason } from "../domain/order.js";
import { orderEvents } from "../events/order-events.js";
import type { Compensation, Effect, ForwardStep, SagaPhase, SagaState } from "../saga/checkout-saga.js";

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
  constructor(private readonly db: SqlDatabase) {}

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
   * Records the saga's next state and its effects on the order (status, price snapshot,
   * events) in one transaction. With `keepLeaseMs` the runner goes on with the saga and its
   * lease is extended by that much; without, the lease is released.
   */
  async record(
    owner: string,
    orderId: string,
    loaded: SagaState,
    next: SagaState,
    effects: Effect[],
    keepLeaseMs?: number,
  ): Promise<Recorded> {
    const now = new Date();
    const write = async (sql: Sql): Promise<Recorded> => {
      const [row] = await sql.query<{ cancel_requested: boolean }>(
        `UPDATE checkout_sagas
         SET phase = $3::"SagaPhase", step = $4::"SagaStep", compensations = $5::text[], reason = $6, cancel_rejection = $7,
             cancel_requested = cancel_requested AND NOT $8::boolean, attempts = 0,
             lease_owner = CASE WHEN $10::int IS NULL THEN NULL ELSE lease_owner END,
             lease_until = CASE WHEN $10::int IS NULL THEN NULL ELSE now() + $10::int * interval '1 millisecond' END,
             updated_at = $9
         WHERE order_id = $2::uuid AND lease_owner = $1
         RETURNING cancel_requested`,
        [
          owner,
          orderId,
          next.phase,
          next.step,
          next.compensations,
          next.reason,
          next.cancelRejection,
          // A request CancelOrder made meanwhile must survive: the flag is only cleared when this state consumed it.
          loaded.cancelRequested && !next.cancelRequested,
          now,
          keepLeaseMs ?? null,
        ],
      );
      if (!row) throw new LeaseLostError(orderId);
      return { cancelRequested: row.cancel_requested && !next.cancelRequested };
    };
    // Most steps change only the saga row: one statement, no transaction needed.
    if (effects.length === 0) return write(this.db);
    return this.db.transaction(async (tx) => {
      const saga = await write(tx);
      for (const effect of effects) await applyEffect(tx, orderId, effect, now);
      return saga;
    });
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

/** Writes one change of the order that a recorded step brings, with the event announcing it. */
async function applyEffect(tx: Sql, orderId: string, effect: Effect, now: Date): Promise<void> {
  switch (effect.kind) {
    case "priced": {
      const { lines, total } = effect.priced;
      const [order] = await tx.query<{ user_id: string }>(
        `WITH priced AS (
           UPDATE orders SET currency = $2, total_minor = $3, updated_at = $4 WHERE id = $1::uuid RETURNING id, user_id),
         lines AS (
           UPDATE order_items SET name = line.name, unit_price_minor = line.unit_price_minor
           FROM priced, unnest($5::text[], $6::int8[]) WITH ORDINALITY AS line(name, unit_price_minor, position)
           WHERE order_items.order_id = priced.id AND order_items.position = line.position - 1)
         SELECT user_id FROM priced`,
        [orderId, total.currency, total.amountMinor, now, lines.map((line) => line.name), lines.map((line) => line.unitPrice!.amountMinor)],
      );
      await orderEvents.priced(tx, { id: orderId, userId: order!.user_id }, effect.priced, now);
      return;
    }
    case "confirmed": {
      const [order] = await tx.query<{ user_id: string; currency: string; total_minor: bigint }>(
        `UPDATE orders SET status = 'CONFIRMED', updated_at = $2 WHERE id = $1::uuid RETURNING user_id, currency, total_minor`,
        [orderId, now],
      );
      await orderEvents.confirmed(
        tx,
        { id: orderId, userId: order!.user_id, total: { currency: order!.currency, amountMinor: order!.total_minor } },
        now,
      );
      return;
    }
    case "cancelled": {
      const [order] = await tx.query<{ user_id: string }>(
        `UPDATE orders SET status = 'CANCELLED', cancellation_reason = $2, updated_at = $3 WHERE id = $1::uuid RETURNING user_id`,
        [orderId, effect.reason, now],
      );
      await orderEvents.cancelled(tx, { id: orderId, userId: order!.user_id }, effect.reason, now);
      return;
    }
  }
}
