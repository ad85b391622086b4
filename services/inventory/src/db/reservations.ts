import type { Sql, SqlDatabase } from "@shop/runtime";
import { type Reservation, type ReservationItem, type ReservationStatus, stepFor } from "../domain/reservation.js";
import { InsufficientStockError } from "../domain/stock.js";

/**
 * READ COMMITTED on purpose: a conditional UPDATE that waited for another transaction's row
 * lock re-checks its WHERE against the committed row instead of failing with a
 * serialization error, which is exactly the "take it only if still available" we want.
 */
const readCommitted = { isolation: "READ COMMITTED" } as const;

interface ReservationRow {
  order_id: string;
  status: ReservationStatus;
  items: { product_id: string; quantity: number }[];
}

/** A reservation with its items in product-id order, in one row. */
const selectReservation = `
  SELECT r.order_id, r.status,
    coalesce((SELECT json_agg(json_build_object('product_id', i.product_id, 'quantity', i.quantity) ORDER BY i.product_id)
              FROM reservation_items i WHERE i.order_id = r.order_id), '[]') AS items
  FROM reservations r WHERE r.order_id = $1::uuid`;

const reservationFrom = (row: ReservationRow): Reservation => ({
  orderId: row.order_id,
  status: row.status,
  items: row.items.map((item) => ({ productId: item.product_id, quantity: item.quantity })),
});

async function load(sql: Sql, orderId: string): Promise<Reservation | null> {
  const [row] = await sql.query<ReservationRow>(selectReservation, [orderId]);
  return row ? reservationFrom(row) : null;
}

/**
 * The reservation with its row locked until the transaction ends, so settling it happens once.
 * Its items may be read before the lock is granted: they never change once the reservation commits.
 */
async function loadForUpdate(tx: Sql, orderId: string): Promise<Reservation | null> {
  const [row] = await tx.query<ReservationRow>(`${selectReservation} FOR UPDATE OF r`, [orderId]);
  return row ? reservationFrom(row) : null;
}

/** The reservation whose row made our insert conflict: it exists, since reservations are never deleted. */
async function lockExisting(tx: Sql, orderId: string): Promise<Reservation> {
  const reservation = await loadForUpdate(tx, orderId);
  if (!reservation) throw new Error(`reservation ${orderId} conflicted on insert but was not found`);
  return reservation;
}

/**
 * Moves units of every item that has enough available into `reserved`; answers the products
 * it held. The stock rows are locked in product-id order before any is changed, so that
 * concurrent reservations over the same products cannot deadlock whatever plan the join gets.
 */
async function holdStock(tx: Sql, items: ReservationItem[]): Promise<Set<string>> {
  const held = await tx.query<{ product_id: string }>(
    `WITH wanted AS (
       SELECT s.product_id, i.quantity
       FROM unnest($1::uuid[], $2::int[]) AS i(product_id, quantity) JOIN stock s ON s.product_id = i.product_id
       ORDER BY s.product_id
       FOR UPDATE OF s
     )
     UPDATE stock SET available = stock.available - wanted.quantity, reserved = stock.reserved + wanted.quantity, updated_at = now()
     FROM wanted
     WHERE stock.product_id = wanted.product_id AND stock.available >= wanted.quantity
     RETURNING stock.product_id`,
    [items.map((item) => item.productId), items.map((item) => item.quantity)],
  );
  return new Set(held.map((row) => row.product_id));
}

/**
 * Settles a RESERVED reservation in one statement: locks its row (a concurrent settle waits,
 * then finds it settled and changes nothing), moves its held units out of `reserved` by `move`
 * (stock rows locked in product-id order, as in reserve) and gives it its new status. Returns a
 * row only when it applied; only RESERVED reservations have units to move.
 */
const settleStatement = (move: string) => `
  WITH locked AS (
    SELECT order_id FROM reservations WHERE order_id = $1::uuid AND status = 'RESERVED' FOR UPDATE
  ), held AS (
    SELECT s.product_id, i.quantity
    FROM locked JOIN reservation_items i ON i.order_id = locked.order_id JOIN stock s ON s.product_id = i.product_id
    ORDER BY s.product_id
    FOR UPDATE OF s
  ), moved AS (
    UPDATE stock SET ${move}, reserved = stock.reserved - held.quantity, updated_at = now()
    FROM held WHERE stock.product_id = held.product_id
  ), settled AS (
    UPDATE reservations SET status = $2::reservation_status, updated_at = now() FROM locked WHERE reservations.order_id = locked.order_id
    RETURNING reservations.order_id
  )
  SELECT coalesce((SELECT json_agg(json_build_object('product_id', product_id, 'quantity', quantity) ORDER BY product_id) FROM held), '[]') AS items
  FROM settled`;

/** Held units go back to `available` on release and on to `committed` on commit. */
const settleStatements: Record<"release" | "commit", string> = {
  release: settleStatement("available = stock.available + held.quantity"),
  commit: settleStatement("committed = stock.committed + held.quantity"),
};

/** Applies a release or commit to a locked reservation, or leaves it as it is when repeated. */
async function settle(tx: Sql, reservation: Reservation, action: "release" | "commit"): Promise<Reservation> {
  const step = stepFor(reservation, action);
  if (step.kind === "unchanged") return reservation;
  await tx.execute(settleStatements[action], [reservation.orderId, step.to]);
  return { ...reservation, status: step.to };
}

/**
 * Settles a RESERVED reservation, the usual case, in one round trip without a transaction;
 * undefined when it is not RESERVED (or does not exist), which the caller's transaction sorts out.
 */
async function settleReserved(db: Sql, orderId: string, action: "release" | "commit"): Promise<Reservation | undefined> {
  const step = stepFor({ orderId, status: "RESERVED" }, action);
  if (step.kind === "unchanged") return undefined;
  const [row] = await db.query<Pick<ReservationRow, "items">>(settleStatements[action], [orderId, step.to]);
  return row && { orderId, status: step.to, items: row.items.map((item) => ({ productId: item.product_id, quantity: item.quantity })) };
}

/**
 * A new reservation holding every item, in one statement, only when every item has enough
 * available: the stock rows are locked in product-id order first and checked under the lock,
 * then the reservation is inserted (nothing if the order has one already) and the units held.
 * `claimed` is 1 when it applied.
 */
const reserveIfAllInStock = `
  WITH wanted AS (
    SELECT s.product_id, i.quantity, s.available >= i.quantity AS enough
    FROM unnest($2::uuid[], $3::int[]) AS i(product_id, quantity) JOIN stock s ON s.product_id = i.product_id
    ORDER BY s.product_id
    FOR UPDATE OF s
  ), in_stock AS (
    SELECT count(*) = $4 AND bool_and(enough) AS every_item FROM wanted
  ), claimed AS (
    INSERT INTO reservations (order_id, status, updated_at)
    SELECT $1::uuid, 'RESERVED', now() FROM in_stock WHERE every_item
    ON CONFLICT (order_id) DO NOTHING
    RETURNING order_id
  ), listed AS (
    INSERT INTO reservation_items (order_id, product_id, quantity)
    SELECT claimed.order_id, wanted.product_id, wanted.quantity FROM claimed CROSS JOIN wanted
  ), held AS (
    UPDATE stock SET available = stock.available - wanted.quantity, reserved = stock.reserved + wanted.quantity, updated_at = now()
    FROM wanted WHERE stock.product_id = wanted.product_id AND EXISTS (SELECT 1 FROM claimed)
  )
  SELECT (SELECT count(*) FROM claimed)::int AS claimed`;

/**
 * Reservations and the stock they hold. Every method is one transaction that first claims
 * or locks the order's reservation row, then touches stock rows in product-id order.
 */
export class ReservationRepository {
  constructor(private readonly db: SqlDatabase) {}

  get(orderId: string): Promise<Reservation | null> {
    return load(this.db, orderId);
  }

  /**
   * Holds stock for every item or for none (InsufficientStockError rolls everything back).
   * `items` come as `itemsInLockOrder` gives them: lower-cased and sorted, as the reservation
   * answers them later. The usual case, a new order whose every item is in stock, is one
   * statement; anything else (a repeat, a short item, an unknown product) is sorted out in a
   * transaction that claims the reservation row first, with its items: a concurrent call for
   * the same order waits on it, then answers with the winner's result.
   */
  async reserve(orderId: string, items: ReservationItem[]): Promise<Reservation> {
    const [held] = await this.db.query<{ claimed: number }>(reserveIfAllInStock, [
      orderId,
      items.map((item) => item.productId),
      items.map((item) => item.quantity),
      items.length,
    ]);
    if (held?.claimed === 1) return { orderId, status: "RESERVED", items };
    return this.db.transaction(async (tx) => {
      const claimed = await tx.query(
        `WITH claimed AS (
           INSERT INTO reservations (order_id, status, updated_at) VALUES ($1::uuid, 'RESERVED', now())
           ON CONFLICT (order_id) DO NOTHING
           RETURNING order_id
         ), listed AS (
           INSERT INTO reservation_items (order_id, product_id, quantity)
           SELECT claimed.order_id, i.product_id, i.quantity FROM claimed CROSS JOIN unnest($2::uuid[], $3::int[]) AS i(product_id, quantity)
         )
         SELECT order_id FROM claimed`,
        [orderId, items.map((item) => item.productId), items.map((item) => item.quantity)],
      );
      if (claimed.length === 0) {
        const existing = await lockExisting(tx, orderId);
        stepFor(existing, "reserve");
        return existing;
      }
      const held = await holdStock(tx, items);
      const short = items.find((item) => !held.has(item.productId));
      if (short) throw new InsufficientStockError(short.productId, short.quantity, await availableOf(tx, short.productId));
      return { orderId, status: "RESERVED" as const, items };
    }, readCommitted);
  }

  /**
   * Gives held stock back. An order never reserved gets a RELEASED reservation without
   * items, so that a Reserve arriving late for it cannot hold stock.
   */
  async release(orderId: string): Promise<Reservation> {
    const released = await settleReserved(this.db, orderId, "release");
    if (released) return released;
    return this.db.transaction(async (tx) => {
      const reservation = await loadForUpdate(tx, orderId);
      if (reservation) return settle(tx, reservation, "release");
      const recorded = await tx.execute(
        `INSERT INTO reservations (order_id, status, updated_at) VALUES ($1::uuid, 'RELEASED', now()) ON CONFLICT (order_id) DO NOTHING`,
        [orderId],
      );
      if (recorded === 1) return { orderId, status: "RELEASED" as const, items: [] };
      // Another call recorded the order after we looked.
      return settle(tx, await lockExisting(tx, orderId), "release");
    }, readCommitted);
  }

  /** Turns held stock into sold stock; null when the order has no reservation. */
  async commit(orderId: string): Promise<Reservation | null> {
    const committed = await settleReserved(this.db, orderId, "commit");
    if (committed) return committed;
    return this.db.transaction(async (tx) => {
      const reservation = await loadForUpdate(tx, orderId);
      return reservation && settle(tx, reservation, "commit");
    }, readCommitted);
  }
}

async function availableOf(tx: Sql, productId: string): Promise<number> {
  const [row] = await tx.query<{ available: number }>(`SELECT available FROM stock WHERE product_id = $1::uuid`, [productId]);
  return row?.available ?? 0;
}
