import { demoProducts, type Logger } from "@shop/runtime";
import type { StockRepository } from "./db/stock.js";

/** Stocks the demo catalog when no product has stock yet (first start only). */
export async function seedDemoStock(stock: StockRepository, logger: Logger): Promise<void> {
  const seeded = await stock.seedIfEmpty(demoProducts.map(({ id, stock: available }) => ({ productId: id, available })));
  if (seeded) logger.info({ products: demoProducts.length }, "demo stock seeded");
}
