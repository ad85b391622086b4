import { demoCurrency, demoProducts, type Logger } from "@shop/runtime";
import type { ProductRepository } from "./db/products.js";

/** Seeds the demo catalog into an empty catalog (first start only). */
export async function seedDemoCatalog(products: ProductRepository, logger: Logger): Promise<void> {
  if ((await products.count()) > 0) return;
  for (const { id, sku, name, description, priceMinor } of demoProducts) {
    await products.create({ id, sku, name, description, currency: demoCurrency, priceMinor });
  }
  logger.info({ products: demoProducts.length }, "demo catalog seeded");
}
