import { ShippingService } from "@shop/contracts/shop/shipping/v1/shipping_pb.js";
import { registration, type ServiceDeps, type StartedParts, startEventPublishing } from "@shop/runtime";
import type { ShippingConfig } from "./config.js";
import { ShipmentRepository } from "./db/shipments.js";
import { shipmentEvent } from "./events/shipment-events.js";
import { shippingHandlers } from "./handlers/shipping-handlers.js";

/** Wires shipping: event relay to NATS, repository, handlers. No listening here. */
export async function buildShipping({ config, logger, db }: ServiceDeps<ShippingConfig>): Promise<StartedParts> {
  const events = await startEventPublishing({ context: "shipping", natsUrl: config.natsUrl, db, logger });
  const shipments = new ShipmentRepository(db, shipmentEvent);
  return {
    registrations: [registration(ShippingService, shippingHandlers(shipments))],
    stop: () => events.stop(),
  };
}
