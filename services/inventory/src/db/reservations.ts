import { stepFor, type Reservation, type ReservationItem } from "../domain/reservation.js";
import { InsufficientStockError } from "../domain/stock.js";
import type { InventoryDb } from "./client.js";
import { Prisma } from "./generated/client.js";

type Transaction = Prisma.TransactionClient;

/**
 * READ COMMITTED on purpose: a conditional UPDATE that waited for another transaction's row
 * lock re-checks its WHERE against the committed row instead of failing with a
 * serialization error, which is exactly the "take it only if still available" we want.
 * The waits allow for bursts of reservations queueing for the same rows.
 */
const transactionOptions = {
  isolationLevel: Prisma.TransactionIsolationLevel.ReadCommitted,
  maxWait: 10_000,
  timeout: 15_000,
};

function load(db: Transaction | InventoryDb, orderId: string): Promise<Reservation | null> {
  return db.reservation.findUnique({
    where: { orderId },
    select: { orderId: true, status: true, items: { select: { productId: true, quantity: true }, orderBy: { productId: "asc" } } },
  });
}

/** The reservation with its row locked until the transaction ends, so settling it happens once. */
async function loadForUpdate(tx: Transaction, orderId: string): Promise<Reservation | null> {
  const locked = await tx.$queryRaw<{ orderId: string }[]>`
    SELECT order_id::text AS "orderId" FROM reservations WHERE order_id = ${orderId}::uuid FOR UPDATE`;
  return locked.length === 0 ? null : load(tx, orderId);
}

/** The reservation whose row made our insert conflict: it exists, since reservations are never deleted. */
async function lockExisting(tx: Transaction, orderId: string): Promise<Reservation> {
  const reservation = await loadForUpdate(tx, orderId);
  if (!reservation) throw new Error(`reservation ${orderId} conflicted on insert but was not found`);
  return reservation;
}

/** Moves the held units of one item out of `reserved`, back to `available` or on to `committed`. */
const settleItem: Record<"release" | "commit", (tx: Transaction, item: ReservationItem) => Promise<number>> = {
  release: (tx, { productId, quantity }) => tx.$executeRaw`
    UPDATE stock SET available = available + ${quantity}, reserved = reserved - ${quantity}, updated_at = now()
    WHERE product_id = ${productId}::uuid`,
  commit: (tx, { productId, quantity }) => tx.$executeRaw`
    UPDATE stock SET reserved = reserved - ${quantity}, committed = committed + ${quantity}, updated_at = now()
    WHERE product_id = ${productId}::uuid`,
};

/**
 * Reservations and the stock they hold. Every method is one transaction that first claims
 * or locks the order's reservation row, then touches stock rows in product-id order.
 */
export class ReservationRepository {
  constructor(private readonly db: InventoryDb) {}

  get(orderId: string): Promise<Reservation | null> {
    return load(this.db, orderId);
  }

  /**
   * Holds stock for every item or for none (InsufficientStockError rolls everything back).
   * `items` must already be in lock order. The reservation row is claimed first: a
   * concurrent call for the same order waits on it, then answers with the winner's result.
   */
  reserve(orderId: string, items: ReservationItem[]): Promise<Reservation> {
    return this.db.$transaction(async (tx) => {
      const claimed = await tx.$executeRaw`
        INSERT INTO reservations (order_id, status) VALUES (${orderId}::uuid, 'RESERVED') ON CONFLICT (order_id) DO NOTHING`;
      if (claimed === 0) {
        const existing = await lockExisting(tx, orderId);
        stepFor(existing, "reserve");
        return existing;
      }
      for (const { productId, quantity } of items) {
        const held = await tx.$executeRaw`
          UPDATE stock SET available = available - ${quantity}, reserved = reserved + ${quantity}, updated_at = now()
          WHERE product_id = ${productId}::uuid AND available >= ${quantity}`;
        if (held === 0) throw new InsufficientStockError(productId, quantity, await availableOf(tx, productId));
      }
      await tx.reservationItem.createMany({ data: items.map((item) => ({ orderId, ...item })) });
      return { orderId, status: "RESERVED" as const, items };
    }, transactionOptions);
  }

  /**
   * Gives held stock back. An order never reserved gets a RELEASED reservation without
   * items, so that a Reserve arriving late for it cannot hold stock.
   */
  release(orderId: string): Promise<Reservation> {
    return this.db.$transaction(async (tx) => {
      const recorded = await tx.$executeRaw`
        INSERT INTO reservations (order_id, status) VALUES (${orderId}::uuid, 'RELEASED') ON CONFLICT (order_id) DO NOTHING`;
      if (recorded === 1) return { orderId, status: "RELEASED" as const, items: [] };
      return this.settle(tx, await lockExisting(tx, orderId), "release");
    }, transactionOptions);
  }

  /** Turns held stock into sold stock; null when the order has no reservation. */
  commit(orderId: string): Promise<Reservation | null> {
    return this.db.$transaction(async (tx) => {
      const reservation = await loadForUpdate(tx, orderId);
      return reservation && this.settle(tx, reservation, "commit");
    }, transactionOptions);
  }

  /** Applies a release or commit to a locked reservation, or leaves it as it is when repeated. */
  private async settle(tx: Transaction, reservation: Reservation, action: "release" | "commit"): Promise<Reservation> {
    const step = stepFor(reservation, action);
    if (step.kind === "unchanged") return reservation;
    for (const item of reservation.items) await settleItem[action](tx, item);
    await tx.reservation.update({ where: { orderId: reservation.orderId }, data: { status: step.to } });
    return { ...reservation, status: step.to };
  }
}

async function availableOf(tx: Transaction, productId: string): Promise<number> {
  const stock = await tx.stock.findUnique({ where: { productId }, select: { available: true } });
  return stock?.available ?? 0;
}
