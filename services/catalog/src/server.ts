import { CatalogService } from "@shop/contracts/shop/catalog/v1/catalog_pb.js";
import { registration, type Logger, type StartedParts } from "@shop/runtime";
import { createCatalogDb } from "./db/client.js";
import { ProductRepository } from "./db/products.js";
import { catalogHandlers } from "./handlers/catalog-handlers.js";
import { seedDemoCatalog } from "./seed.js";
import type { CatalogConfig } from "./config.js";

/** Wires the catalog: database, repositories, handlers. No listening here. */
export async function buildCatalog({ config, logger }: { config: CatalogConfig; logger: Logger }): Promise<StartedParts> {
  const db = createCatalogDb(config.databaseUrl, config.databasePoolSize);
  const products = new ProductRepository(db);
  if (config.SEED_DEMO_DATA) await seedDemoCatalog(products, logger);
  return {
    registrations: [registration(CatalogService, catalogHandlers(products))],
    stop: () => db.$disconnect(),
  };
}
