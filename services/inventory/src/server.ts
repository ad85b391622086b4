import { InventoryService } from "@shop/contracts/shop/inventory/v1/inventory_pb.js";
import { registration, type ServiceDeps, type StartedParts } from "@shop/runtime";
import type { InventoryConfig } from "./config.js";
import { ReservationRepository } from "./db/reservations.js";
import { StockRepository } from "./db/stock.js";
import { inventoryHandlers } from "./handlers/inventory-handlers.js";
import { seedDemoStock } from "./seed.js";

/** Wires inventory: repositories, handlers. No listening here. */
export async function buildInventory({ config, logger, db }: ServiceDeps<InventoryConfig>): Promise<StartedParts> {
  const stock = new StockRepository(db);
  if (config.SEED_DEMO_DATA) await seedDemoStock(stock, logger);
  return {
    registrations: [registration(InventoryService, inventoryHandlers(stock, new ReservationRepository(db)))],
  };
}
