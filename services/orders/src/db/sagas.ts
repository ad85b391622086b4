import type { CancellationReason } from "../domain/order.js";
import { orderEvents } from "../events/order-events.js";
import type { Compensation, Effect, ForwardStep, SagaPhase, SagaState } from "../saga/checkout-saga.js";
import type { OrdersDb } from "./client.js";
import { orderFromRow } from "./orders.js";

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

/**
 * Saga progress and leases. A runner claims due sagas whose lease is free or expired
 * (`FOR UPDATE SKIP LOCKED`, so concurrent claimers never get the same row), renews the
 * lease while it works, and every write is guarded by `lease_owner`, so a runner whose
 * lease was taken over cannot record anything.
 */
export class SagaStore {
  /** `eventsCommitted` runs after a transaction that wrote events commits (wakes the outbox relay). */
  constructor(
    private readonly db: OrdersDb,
    private readonly eventsCommitted: () => void = () => {},
  ) {}

  /** Claims up to `limit` due sagas, oldest due first. */
  async claimDue(owner: string, leaseMs: number, limit: number): Promise<ClaimedSaga[]> {
    const rows = await this.db.$queryRawUnsafe<SagaRow[]>(
      `UPDATE checkout_sagas SET lease_owner = $1, lease_until = now() + $2::int * interval '1 millisecond'
       WHERE order_id IN (
         SELECT order_id FROM checkout_sagas
         WHERE ${needsWork} AND next_run_at <= now() AND (lease_until IS NULL OR lease_until < now())
         ORDER BY next_run_at LIMIT $3
         FOR UPDATE SKIP LOCKED)
       RETURNING *`,
      owner,
      leaseMs,
      limit,
    );
    return rows.map(claimedFrom);
  }

  /** Claims one saga if it is due and free. */
  async claim(owner: string, leaseMs: number, orderId: string): Promise<ClaimedSaga | undefined> {
    const rows = await this.db.$queryRawUnsafe<SagaRow[]>(
      `UPDATE checkout_sagas SET lease_owner = $1, lease_until = now() + $2::int * interval '1 millisecond'
       WHERE order_id IN (
         SELECT order_id FROM checkout_sagas
         WHERE order_id = $3::uuid AND ${needsWork} AND next_run_at <= now() AND (lease_until IS NULL OR lease_until < now())
         FOR UPDATE SKIP LOCKED)
       RETURNING *`,
      owner,
      leaseMs,
      orderId,
    );
    return rows.map(claimedFrom)[0];
  }

  /** Extends the lease; false when it was taken over. */
  async renew(owner: string, leaseMs: number, orderId: string): Promise<boolean> {
    const count = await this.db.$executeRawUnsafe(
      `UPDATE checkout_sagas SET lease_until = now() + $2::int * interval '1 millisecond' WHERE order_id = $3::uuid AND lease_owner = $1`,
      owner,
      leaseMs,
      orderId,
    );
    return count > 0;
  }

  /**
   * Records the saga's next state and its effects on the order (status, price snapshot,
   * events) in one transaction, and releases the lease.
   */
  async record(owner: string, orderId: string, loaded: SagaState, next: SagaState, effects: Effect[]): Promise<void> {
    const now = new Date();
    const progress = {
      where: { orderId, leaseOwner: owner },
      data: {
        phase: next.phase,
        step: next.step,
        compensations: next.compensations,
        reason: next.reason,
        cancelRejection: next.cancelRejection,
        // A request CancelOrder made meanwhile must survive: the flag is only ever cleared here.
        ...(loaded.cancelRequested && !next.cancelRequested ? { cancelRequested: false } : {}),
        attempts: 0,
        leaseOwner: null,
        leaseUntil: null,
        updatedAt: now,
      },
    };
    if (effects.length === 0) {
      // Most steps change only the saga row: one statement, no transaction needed.
      const { count } = await this.db.checkoutSaga.updateMany(progress);
      if (count === 0) throw new LeaseLostError(orderId);
      return;
    }
    await this.db.$transaction(async (tx) => {
      const { count } = await tx.checkoutSaga.updateMany(progress);
      if (count === 0) throw new LeaseLostError(orderId);
      for (const effect of effects) {
        switch (effect.kind) {
          case "priced": {
            const { lines, total } = effect.priced;
            const order = await tx.order.update({
              where: { id: orderId },
              data: { currency: total.currency, totalMinor: total.amountMinor, updatedAt: now },
            });
            for (const [position, line] of lines.entries()) {
              await tx.orderItem.update({
                where: { orderId_position: { orderId, position } },
                data: { name: line.name, unitPriceMinor: line.unitPrice!.amountMinor },
              });
            }
            await orderEvents.priced(tx, order, effect.priced, now);
            break;
          }
          case "confirmed": {
            const order = await tx.order.update({ where: { id: orderId }, data: { status: "CONFIRMED", updatedAt: now }, include: { items: true } });
            await orderEvents.confirmed(tx, { ...order, total: orderFromRow(order).total! }, now);
            break;
          }
          case "cancelled": {
            const order = await tx.order.update({
              where: { id: orderId },
              data: { status: "CANCELLED", cancellationReason: effect.reason, updatedAt: now },
            });
            await orderEvents.cancelled(tx, order, effect.reason, now);
            break;
          }
        }
      }
    });
    this.eventsCommitted();
  }

  /** Leaves the state as it is and makes the saga due again after `delayMs`; releases the lease. */
  async retryLater(owner: string, orderId: string, attempts: number, delayMs: number): Promise<void> {
    const count = await this.db.$executeRawUnsafe(
      `UPDATE checkout_sagas
       SET attempts = $3, next_run_at = now() + $4::int * interval '1 millisecond', lease_owner = NULL, lease_until = NULL, updated_at = now()
       WHERE order_id = $2::uuid AND lease_owner = $1`,
      owner,
      orderId,
      attempts,
      delayMs,
    );
    if (count === 0) throw new LeaseLostError(orderId);
  }

  /** Gives the saga back untouched, so another runner may take it at once. */
  async release(owner: string, orderId: string): Promise<void> {
    await this.db.$executeRawUnsafe(
      `UPDATE checkout_sagas SET lease_owner = NULL, lease_until = NULL WHERE order_id = $2::uuid AND lease_owner = $1`,
      owner,
      orderId,
    );
  }
}
