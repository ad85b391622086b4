import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { ShipmentCancelledSchema, ShipmentCreatedSchema, ShipmentDispatchedSchema } from "@shop/contracts/shop/shipping/v1/events_pb.js";
import { enqueueEvent, type Sql } from "@shop/runtime";
import type { Shipment } from "../domain/shipment.js";

/**
 * Writes, inside `tx`, the event of `shipment` entering its current status: every status a
 * shipment can enter has exactly one event.
 */
export async function enqueueShipmentEvent(tx: Sql, shipment: Shipment): Promise<void> {
  const { id: shipmentId, orderId } = shipment;
  const userId = shipment.userId ?? "";
  const trackingNumber = shipment.trackingNumber ?? "";
  const occurTime = timestampFromDate(shipment.updatedAt);
  switch (shipment.status) {
    case "CREATED":
      await enqueueEvent(tx, ShipmentCreatedSchema, { shipmentId, orderId, userId, trackingNumber, occurTime });
      return;
    case "DISPATCHED":
      await enqueueEvent(tx, ShipmentDispatchedSchema, { shipmentId, orderId, userId, trackingNumber, occurTime });
      return;
    case "CANCELLED":
      await enqueueEvent(tx, ShipmentCancelledSchema, { shipmentId, orderId, userId, occurTime });
      return;
  }
}
