import { demoCurrency, demoProducts, type Logger } from "@shop/runtime";
import type { ProductRepository } from "./db/products.js";

/** Seeds the demo catalog into an empty catalog (first start only). */
export async function seedDemoCatalog(products: ProductRepository, logger: Logger): Promise<void> {
  const seeded = await products.createAllIfEmpty(
    demoProducts.map(({ id, sku, name, description, priceMinor }) => ({ id, sku, name, description, currency: demoCurrency, priceMinor })),
  );
  if (seeded > 0) logger.info({ products: seeded }, "demo catalog seeded");
}
