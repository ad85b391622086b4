import type { SqlDatabase } from "@shop/runtime";
import { emptyStock, type Stock } from "../domain/stock.js";

interface StockRow {
  product_id: string;
  available: number;
  reserved: number;
  committed: number;
}

const stockColumns = `product_id, available, reserved, committed`;

const stockFrom = (row: StockRow): Stock => ({
  productId: row.product_id,
  available: row.available,
  reserved: row.reserved,
  committed: row.committed,
});

/** Stock levels as an admin sets and anyone reads them; reservations move units in ReservationRepository. */
export class StockRepository {
  constructor(private readonly db: SqlDatabase) {}

  async get(productId: string): Promise<Stock> {
    const [row] = await this.db.query<StockRow>(`SELECT ${stockColumns} FROM stock WHERE product_id = $1::uuid`, [productId]);
    return row ? stockFrom(row) : emptyStock(productId);
  }

  /** Sets the units for sale, creating the row on first use; held and sold units stay as they are. */
  async setAvailable(productId: string, available: number): Promise<Stock> {
    const [row] = await this.db.query<StockRow>(
      `INSERT INTO stock (product_id, available, updated_at) VALUES ($1::uuid, $2, now())
       ON CONFLICT (product_id) DO UPDATE SET available = EXCLUDED.available, updated_at = now()
       RETURNING ${stockColumns}`,
      [productId, available],
    );
    return stockFrom(row!);
  }

  /** Stocks the given products when no product has stock yet; says whether it did. */
  async seedIfEmpty(levels: { productId: string; available: number }[]): Promise<boolean> {
    // Replicas starting together may both find the table empty; the first insert of a row wins.
    const seeded = await this.db.execute(
      `INSERT INTO stock (product_id, available, updated_at)
       SELECT level.product_id, level.available, now() FROM unnest($1::uuid[], $2::int[]) AS level(product_id, available)
       WHERE NOT EXISTS (SELECT FROM stock)
       ON CONFLICT (product_id) DO NOTHING`,
      [levels.map((level) => level.productId), levels.map((level) => level.available)],
    );
    return seeded > 0;
  }
}
