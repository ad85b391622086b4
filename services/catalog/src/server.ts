import { CatalogService } from "@shop/contracts/shop/catalog/v1/catalog_pb.js";
import { registration, type ServiceDeps, type StartedParts } from "@shop/runtime";
import type { CatalogConfig } from "./config.js";
import { ProductRepository } from "./db/products.js";
import { catalogHandlers } from "./handlers/catalog-handlers.js";
import { seedDemoCatalog } from "./seed.js";

/** Wires the catalog: repositories, handlers. No listening here. */
export async function buildCatalog({ config, logger, db }: ServiceDeps<CatalogConfig>): Promise<StartedParts> {
  const products = new ProductRepository(db);
  if (config.SEED_DEMO_DATA) await seedDemoCatalog(products, logger);
  return { registrations: [registration(CatalogService, catalogHandlers(products))] };
}
