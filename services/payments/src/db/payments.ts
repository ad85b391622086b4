import type { Sql, SqlDatabase } from "@shop/runtime";
import type { NewPayment, Payment, PaymentStatus } from "../domain/payment.js";
import { enqueuePaymentEvent } from "../events/payment-events.js";

export interface TransitionResult {
  payment: Payment;
  /** False when the payment was not in the `from` status: nothing was written. */
  changed: boolean;
}

interface PaymentRow {
  id: string;
  order_id: string;
  user_id: string | null;
  status: PaymentStatus;
  currency: string | null;
  amount_minor: bigint | null;
  decline_reason: string | null;
  created_at: Date;
  updated_at: Date;
}

const paymentColumns = `id, order_id, user_id, status, currency, amount_minor, decline_reason, created_at, updated_at`;

const paymentFrom = (row: PaymentRow): Payment => ({
  id: row.id,
  orderId: row.order_id,
  userId: row.user_id,
  status: row.status,
  currency: row.currency,
  amountMinor: row.amount_minor,
  declineReason: row.decline_reason,
  createdAt: row.created_at,
  updatedAt: row.updated_at,
});

async function findByOrder(sql: Sql, orderId: string): Promise<Payment | null> {
  const [row] = await sql.query<PaymentRow>(`SELECT ${paymentColumns} FROM payments WHERE order_id = $1::uuid`, [orderId]);
  return row ? paymentFrom(row) : null;
}

/** Payments in SQL; the only code that touches the payments tables. */
export class PaymentRepository {
  constructor(private readonly db: SqlDatabase) {}

  findByOrder(orderId: string): Promise<Payment | null> {
    return findByOrder(this.db, orderId);
  }

  /** Counts an authorization attempt of an order, committed on its own so failed attempts count too; returns its 1-based number. */
  async countAuthorizationAttempt(orderId: string): Promise<number> {
    const [row] = await this.db.query<{ attempts: number }>(
      `INSERT INTO authorization_attempts (order_id, attempts) VALUES ($1::uuid, 1)
       ON CONFLICT (order_id) DO UPDATE SET attempts = authorization_attempts.attempts + 1, updated_at = now()
       RETURNING attempts`,
      [orderId],
    );
    return row!.attempts;
  }

  /**
   * Stores the first payment of an order with the event of its status, in one transaction.
   * Returns null when the order already has a payment (a concurrent call won): the caller
   * reads that one instead. Tombstones carry no event: no money moved.
   */
  createFirst(payment: NewPayment): Promise<Payment | null> {
    return this.db.transaction(async (tx) => {
      const [row] = await tx.query<PaymentRow>(
        `INSERT INTO payments (id, order_id, user_id, status, currency, amount_minor, decline_reason, updated_at)
         VALUES ($1::uuid, $2::uuid, $3::uuid, $4::payment_status, $5, $6, $7, now())
         ON CONFLICT (order_id) DO NOTHING
         RETURNING ${paymentColumns}`,
        [payment.id, payment.orderId, payment.userId, payment.status, payment.currency, payment.amountMinor, payment.declineReason],
      );
      if (!row) return null;
      const created = paymentFrom(row);
      if (created.userId !== null) await enqueuePaymentEvent(tx, created);
      return created;
    });
  }

  /**
   * Moves the payment of an order from `from` to `to` with the event of `to`, in one
   * transaction. The conditional update makes concurrent calls apply once. Null when the
   * order has no payment.
   */
  transition(orderId: string, from: PaymentStatus, to: PaymentStatus): Promise<TransitionResult | null> {
    return this.db.transaction(async (tx): Promise<TransitionResult | null> => {
      const [row] = await tx.query<PaymentRow>(
        `UPDATE payments SET status = $3::payment_status, updated_at = now()
         WHERE order_id = $1::uuid AND status = $2::payment_status
         RETURNING ${paymentColumns}`,
        [orderId, from, to],
      );
      if (row) {
        const moved = paymentFrom(row);
        await enqueuePaymentEvent(tx, moved);
        return { payment: moved, changed: true };
      }
      const current = await findByOrder(tx, orderId);
      return current && { payment: current, changed: false };
    });
  }
}
