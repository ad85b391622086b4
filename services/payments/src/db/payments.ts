import { enqueuePaymentEvent } from "../events/payment-events.js";
import type { NewPayment, Payment, PaymentStatus } from "../domain/payment.js";
import type { PaymentsDb } from "./client.js";
import type { Prisma } from "./generated/client.js";

export interface TransitionResult {
  payment: Payment;
  /** False when the payment was not in the `from` status: nothing was written. */
  changed: boolean;
}

type RecordEvent = (payment: Payment) => Promise<void>;

/** Payments over Prisma; the only code that touches the payments tables. */
export class PaymentRepository {
  /** `onEventsCommitted` runs after a transaction that wrote events commits (to publish them at once). */
  constructor(
    private readonly db: PaymentsDb,
    private readonly onEventsCommitted: () => void = () => {},
  ) {}

  findByOrder(orderId: string): Promise<Payment | null> {
    return this.db.payment.findUnique({ where: { orderId } });
  }

  /** Counts an authorization attempt of an order, committed on its own so failed attempts count too; returns its 1-based number. */
  async countAuthorizationAttempt(orderId: string): Promise<number> {
    const [row] = await this.db.$queryRaw<{ attempts: number }[]>`
      INSERT INTO authorization_attempts (order_id, attempts) VALUES (${orderId}::uuid, 1)
      ON CONFLICT (order_id) DO UPDATE SET attempts = authorization_attempts.attempts + 1, updated_at = now()
      RETURNING attempts`;
    return row!.attempts;
  }

  /**
   * Stores the first payment of an order with the event of its status, in one transaction.
   * Returns null when the order already has a payment (a concurrent call won): the caller
   * reads that one instead. Tombstones carry no event: no money moved.
   */
  createFirst(payment: NewPayment): Promise<Payment | null> {
    return this.withEvents(async (tx, recordEvent) => {
      const [created] = await tx.payment.createManyAndReturn({ data: payment, skipDuplicates: true });
      if (!created) return null;
      if (created.userId !== null) await recordEvent(created);
      return created;
    });
  }

  /**
   * Moves the payment of an order from `from` to `to` with the event of `to`, in one
   * transaction. The conditional update makes concurrent calls apply once. Null when the
   * order has no payment.
   */
  transition(orderId: string, from: PaymentStatus, to: PaymentStatus): Promise<TransitionResult | null> {
    return this.withEvents(async (tx, recordEvent) => {
      const [moved] = await tx.payment.updateManyAndReturn({ where: { orderId, status: from }, data: { status: to } });
      if (moved) {
        await recordEvent(moved);
        return { payment: moved, changed: true };
      }
      const current = await tx.payment.findUnique({ where: { orderId } });
      return current && { payment: current, changed: false };
    });
  }

  private async withEvents<R>(work: (tx: Prisma.TransactionClient, recordEvent: RecordEvent) => Promise<R>): Promise<R> {
    let recorded = false;
    const result = await this.db.$transaction((tx) =>
      work(tx, async (payment) => {
        await enqueuePaymentEvent(tx, payment);
        recorded = true;
      }),
    );
    if (recorded) this.onEventsCommitted();
    return result;
  }
}
