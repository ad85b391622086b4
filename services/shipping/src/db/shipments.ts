import { enqueueEvents, eventsInStatement, type OutboxEntry, outboxWrittenAt, type Sql, type SqlDatabase } from "@shop/runtime";
import type { NewShipment, Shipment, ShipmentStatus } from "../domain/shipment.js";

export interface TransitionResult {
  shipment: Shipment;
  /** False when the shipment was not in the `from` status: nothing was written. */
  changed: boolean;
}

interface ShipmentRow {
  id: string;
  order_id: string;
  user_id: string | null;
  status: ShipmentStatus;
  tracking_number: string | null;
  recipient: string | null;
  line1: string | null;
  line2: string | null;
  city: string | null;
  postal_code: string | null;
  country_code: string | null;
  created_at: Date;
  updated_at: Date;
}

const shipmentColumns = `id, order_id, user_id, status, tracking_number, recipient, line1, line2, city, postal_code, country_code, created_at, updated_at`;

function shipmentFrom(row: ShipmentRow): Shipment {
  const { recipient, line1, line2, city, postal_code: postalCode, country_code: countryCode } = row;
  const address =
    recipient !== null && line1 !== null && line2 !== null && city !== null && postalCode !== null && countryCode !== null
      ? { recipient, line1, line2, city, postalCode, countryCode }
      : null;
  return {
    id: row.id,
    orderId: row.order_id,
    userId: row.user_id,
    status: row.status,
    trackingNumber: row.tracking_number,
    address,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

async function findByOrder(sql: Sql, orderId: string): Promise<Shipment | null> {
  const [row] = await sql.query<ShipmentRow>(`SELECT ${shipmentColumns} FROM shipments WHERE order_id = $1::uuid`, [orderId]);
  return row ? shipmentFrom(row) : null;
}

/**
 * Stores `shipment` unless the order, the id or the tracking number is taken; null then. The
 * events `announce` gives for the stored shipment are written in the same statement.
 */
async function insertFirst(sql: Sql, shipment: NewShipment, announce?: (stored: Shipment) => OutboxEntry): Promise<Shipment | null> {
  const { address } = shipment;
  const now = new Date();
  const values = [
    shipment.id,
    shipment.orderId,
    shipment.userId,
    shipment.status,
    shipment.trackingNumber,
    address?.recipient ?? null,
    address?.line1 ?? null,
    address?.line2 ?? null,
    address?.city ?? null,
    address?.postalCode ?? null,
    address?.countryCode ?? null,
    now,
  ];
  const insert = `INSERT INTO shipments (id, order_id, user_id, status, tracking_number, recipient, line1, line2, city, postal_code, country_code, created_at, updated_at)
     VALUES ($1::uuid, $2::uuid, $3::uuid, $4::shipment_status, $5, $6, $7, $8, $9, $10, $11, $12, $12)
     ON CONFLICT DO NOTHING
     RETURNING ${shipmentColumns}`;
  if (!announce) {
    const [row] = await sql.query<ShipmentRow>(insert, values);
    return row ? shipmentFrom(row) : null;
  }
  const stored: Shipment = { ...shipment, createdAt: now, updatedAt: now };
  const events = eventsInStatement([announce(stored)], values.length + 1, "EXISTS (SELECT 1 FROM stored)");
  const [row] = await sql.query<ShipmentRow & { outbox_written_at: Date | null }>(
    `WITH stored AS (${insert}), ${events.cte} SELECT stored.*, ${outboxWrittenAt} FROM stored`,
    [...values, ...events.values],
  );
  if (!row) return null;
  events.written(sql, row.outbox_written_at);
  return shipmentFrom(row);
}

/** Shipments in SQL; the only code that touches the shipping tables. */
export class ShipmentRepository {
  /** `announce` gives the event of a shipment entering its status (the events module has it). */
  constructor(
    private readonly db: SqlDatabase,
    private readonly announce: (shipment: Shipment) => OutboxEntry,
  ) {}

  findByOrder(orderId: string): Promise<Shipment | null> {
    return findByOrder(this.db, orderId);
  }

  /**
   * Stores the first shipment of an order with the event of its status, in one statement.
   * Returns null when nothing was stored: the order already has a shipment (a concurrent call
   * won) or, very rarely, the tracking number is taken. Tombstones carry no event: nothing
   * was shipped or cancelled.
   */
  createFirst(shipment: NewShipment): Promise<Shipment | null> {
    return insertFirst(this.db, shipment, shipment.userId === null ? undefined : this.announce);
  }

  /**
   * Moves the shipment of an order from `from` to `to` with the event of `to`, in one
   * transaction. The conditional update makes concurrent calls apply once. Null when the
   * order has no shipment.
   */
  transition(orderId: string, from: ShipmentStatus, to: ShipmentStatus): Promise<TransitionResult | null> {
    return this.db.transaction(async (tx): Promise<TransitionResult | null> => {
      const [row] = await tx.query<ShipmentRow>(
        `UPDATE shipments SET status = $3::shipment_status, updated_at = now()
         WHERE order_id = $1::uuid AND status = $2::shipment_status
         RETURNING ${shipmentColumns}`,
        [orderId, from, to],
      );
      if (row) {
        const moved = shipmentFrom(row);
        await enqueueEvents(tx, [this.announce(moved)]);
        return { shipment: moved, changed: true };
      }
      const current = await findByOrder(tx, orderId);
      return current && { shipment: current, changed: false };
    });
  }
}
