import { InventoryService } from "@shop/contracts/shop/inventory/v1/inventory_pb.js";
import { registration, type Logger, type StartedParts } from "@shop/runtime";
import { createInventoryDb } from "./db/client.js";
import { ReservationRepository } from "./db/reservations.js";
import { StockRepository } from "./db/stock.js";
import { inventoryHandlers } from "./handlers/inventory-handlers.js";
import { seedDemoStock } from "./seed.js";
import type { InventoryConfig } from "./config.js";

/** Wires inventory: database, repositories, handlers. No listening here. */
export async function buildInventory({ config, logger }: { config: InventoryConfig; logger: Logger }): Promise<StartedParts> {
  const db = createInventoryDb(config.databaseUrl, config.databasePoolSize);
  const stock = new StockRepository(db);
  if (config.SEED_DEMO_DATA) await seedDemoStock(stock, logger);
  return {
    registrations: [registration(InventoryService, inventoryHandlers(stock, new ReservationRepository(db)))],
    stop: () => db.$disconnect(),
  };
}
