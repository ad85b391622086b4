import { ShippingService } from "@shop/contracts/shop/shipping/v1/shipping_pb.js";
import { registration, type Logger, type StartedParts } from "@shop/runtime";
import { createShippingDb } from "./db/client.js";
import { ShipmentRepository } from "./db/shipments.js";
import { shippingHandlers } from "./handlers/shipping-handlers.js";
import type { ShippingConfig } from "./config.js";

/** Wires shipping: database, repository, handlers. No listening here. */
export async function buildShipping({ config }: { config: ShippingConfig; logger: Logger }): Promise<StartedParts> {
  const db = createShippingDb(config.databaseUrl);
  const shipments = new ShipmentRepository(db);
  return {
    registrations: [registration(ShippingService, shippingHandlers(shipments))],
    stop: () => db.$disconnect(),
  };
}
