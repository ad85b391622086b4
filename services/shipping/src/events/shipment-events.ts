import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { ShipmentCancelledSchema, ShipmentCreatedSchema, ShipmentDispatchedSchema } from "@shop/contracts/shop/shipping/v1/events_pb.js";
import { type OutboxEntry, outboxEntry } from "@shop/runtime";
import type { Shipment } from "../domain/shipment.js";

/** The event of `shipment` entering its current status: every status a shipment can enter has exactly one. */
export function shipmentEvent(shipment: Shipment): OutboxEntry {
  const { id: shipmentId, orderId } = shipment;
  const userId = shipment.userId ?? "";
  const trackingNumber = shipment.trackingNumber ?? "";
  const occurTime = timestampFromDate(shipment.updatedAt);
  switch (shipment.status) {
    case "CREATED":
      return outboxEntry(ShipmentCreatedSchema, { shipmentId, orderId, userId, trackingNumber, occurTime });
    case "DISPATCHED":
      return outboxEntry(ShipmentDispatchedSchema, { shipmentId, orderId, userId, trackingNumber, occurTime });
    case "CANCELLED":
      return outboxEntry(ShipmentCancelledSchema, { shipmentId, orderId, userId, occurTime });
  }
}
