import { connect } from "nats";
import { ShippingService } from "@shop/contracts/shop/shipping/v1/shipping_pb.js";
import { ensureStreams, registration, startOutboxRelay, type Logger, type StartedParts } from "@shop/runtime";
import { createShippingDb } from "./db/client.js";
import { ShipmentRepository } from "./db/shipments.js";
import { shippingHandlers } from "./handlers/shipping-handlers.js";
import type { ShippingConfig } from "./config.js";

/** Wires shipping: database, event relay to NATS, repository, handlers. No listening here. */
export async function buildShipping({ config, logger }: { config: ShippingConfig; logger: Logger }): Promise<StartedParts> {
  const db = createShippingDb(config.databaseUrl);
  const nc = await connect({ servers: config.natsUrl, name: "shipping" });
  try {
    await ensureStreams(await nc.jetstreamManager(), ["shipping"]);
  } catch (err) {
    await nc.close();
    await db.$disconnect();
    throw err;
  }
  const relay = startOutboxRelay({ db, nc, logger });
  const shipments = new ShipmentRepository(db, () => relay.notify());
  return {
    registrations: [registration(ShippingService, shippingHandlers(shipments))],
    async stop() {
      await relay.stop();
      await nc.drain();
      await db.$disconnect();
    },
  };
}
