import { enqueueShipmentEvent } from "../events/shipment-events.js";
import type { NewShipment, Shipment, ShipmentStatus } from "../domain/shipment.js";
import type { ShippingDb } from "./client.js";
import type { Prisma, Shipment as ShipmentRow } from "./generated/client.js";

export interface TransitionResult {
  shipment: Shipment;
  /** False when the shipment was not in the `from` status: nothing was written. */
  changed: boolean;
}

function toShipment({ recipient, line1, line2, city, postalCode, countryCode, ...row }: ShipmentRow): Shipment {
  const address =
    recipient !== null && line1 !== null && line2 !== null && city !== null && postalCode !== null && countryCode !== null
      ? { recipient, line1, line2, city, postalCode, countryCode }
      : null;
  return { ...row, address };
}

function toRow({ address, ...shipment }: NewShipment) {
  return { ...shipment, ...(address ?? {}) };
}

type RecordEvent = (shipment: Shipment) => Promise<void>;

/** Shipments over Prisma; the only code that touches the shipping tables. */
export class ShipmentRepository {
  /** `onEventsCommitted` runs after a transaction that wrote events commits (to publish them at once). */
  constructor(
    private readonly db: ShippingDb,
    private readonly onEventsCommitted: () => void = () => {},
  ) {}

  async findByOrder(orderId: string): Promise<Shipment | null> {
    const row = await this.db.shipment.findUnique({ where: { orderId } });
    return row && toShipment(row);
  }

  /**
   * Stores the first shipment of an order with the event of its status, in one transaction.
   * Returns null when nothing was stored: the order already has a shipment (a concurrent call
   * won) or, very rarely, the tracking number is taken. Tombstones carry no event: nothing
   * was shipped or cancelled.
   */
  createFirst(shipment: NewShipment): Promise<Shipment | null> {
    return this.withEvents(async (tx, recordEvent) => {
      const [row] = await tx.shipment.createManyAndReturn({ data: toRow(shipment), skipDuplicates: true });
      if (!row) return null;
      const created = toShipment(row);
      if (created.userId !== null) await recordEvent(created);
      return created;
    });
  }

  /**
   * Moves the shipment of an order from `from` to `to` with the event of `to`, in one
   * transaction. The conditional update makes concurrent calls apply once. Null when the
   * order has no shipment.
   */
  transition(orderId: string, from: ShipmentStatus, to: ShipmentStatus): Promise<TransitionResult | null> {
    return this.withEvents(async (tx, recordEvent) => {
      const [moved] = await tx.shipment.updateManyAndReturn({ where: { orderId, status: from }, data: { status: to } });
      if (moved) {
        const shipment = toShipment(moved);
        await recordEvent(shipment);
        return { shipment, changed: true };
      }
      const current = await tx.shipment.findUnique({ where: { orderId } });
      return current && { shipment: toShipment(current), changed: false };
    });
  }

  private async withEvents<R>(work: (tx: Prisma.TransactionClient, recordEvent: RecordEvent) => Promise<R>): Promise<R> {
    let recorded = false;
    const result = await this.db.$transaction((tx) =>
      work(tx, async (shipment) => {
        await enqueueShipmentEvent(tx, shipment);
        recorded = true;
      }),
    );
    if (recorded) this.onEventsCommitted();
    return result;
  }
}
