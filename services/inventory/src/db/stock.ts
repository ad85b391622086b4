import { emptyStock, type Stock } from "../domain/stock.js";
import type { InventoryDb } from "./client.js";

const stockColumns = { productId: true, available: true, reserved: true, committed: true } as const;

/** Stock levels as an admin sets and anyone reads them; reservations move units in ReservationRepository. */
export class StockRepository {
  constructor(private readonly db: InventoryDb) {}

  async get(productId: string): Promise<Stock> {
    return (await this.db.stock.findUnique({ where: { productId }, select: stockColumns })) ?? emptyStock(productId);
  }

  /** Sets the units for sale, creating the row on first use; held and sold units stay as they are. */
  async setAvailable(productId: string, available: number): Promise<Stock> {
    const [stock] = await this.db.$queryRaw<Stock[]>`
      INSERT INTO stock (product_id, available) VALUES (${productId}::uuid, ${available})
      ON CONFLICT (product_id) DO UPDATE SET available = EXCLUDED.available, updated_at = now()
      RETURNING product_id::text AS "productId", available, reserved, committed`;
    return stock!;
  }

  /** Stocks the given products when no product has stock yet; says whether it did. */
  async seedIfEmpty(levels: { productId: string; available: number }[]): Promise<boolean> {
    if ((await this.db.stock.count()) > 0) return false;
    // Replicas starting together may both get here; the first insert of a row wins.
    await this.db.stock.createMany({ data: levels, skipDuplicates: true });
    return true;
  }
}
