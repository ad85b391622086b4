import { ShippingService } from "@shop/contracts/shop/shipping/v1/shipping_pb.js";
import { registration, startEventPublishing, type EventPublishing, type Logger, type StartedParts } from "@shop/runtime";
import { createShippingDb } from "./db/client.js";
import { ShipmentRepository } from "./db/shipments.js";
import { shippingHandlers } from "./handlers/shipping-handlers.js";
import type { ShippingConfig } from "./config.js";

/** Wires shipping: database, event relay to NATS, repository, handlers. No listening here. */
export async function buildShipping({ config, logger }: { config: ShippingConfig; logger: Logger }): Promise<StartedParts> {
  const db = createShippingDb(config.databaseUrl, config.databasePoolSize);
  let events: EventPublishing;
  try {
    events = await startEventPublishing({ context: "shipping", natsUrl: config.natsUrl, db, logger });
  } catch (err) {
    await db.$disconnect();
    throw err;
  }
  const shipments = new ShipmentRepository(db, () => events.relay.notify());
  return {
    registrations: [registration(ShippingService, shippingHandlers(shipments))],
    async stop() {
      await events.stop();
      await db.$disconnect();
    },
  };
}
