import { isUniqueViolation, type PageEnd, type SqlDatabase } from "@shop/runtime";
import type { NewProduct, Product } from "../domain/product.js";

export class DuplicateSkuError extends Error {}

interface ProductRow {
  id: string;
  sku: string;
  name: string;
  description: string;
  currency: string;
  price_minor: bigint;
  created_at: Date;
  updated_at: Date;
}

const productColumns = `id, sku, name, description, currency, price_minor, created_at, updated_at`;

const productFrom = (row: ProductRow): Product => ({
  id: row.id,
  sku: row.sku,
  name: row.name,
  description: row.description,
  currency: row.currency,
  priceMinor: row.price_minor,
  createdAt: row.created_at,
  updatedAt: row.updated_at,
});

/** Products in SQL; the only code that touches the catalog tables. */
export class ProductRepository {
  constructor(private readonly db: SqlDatabase) {}

  async create(product: NewProduct): Promise<Product> {
    try {
      const [row] = await this.db.query<ProductRow>(
        `INSERT INTO products (id, sku, name, description, currency, price_minor, updated_at)
         VALUES ($1::uuid, $2, $3, $4, $5, $6, now())
         RETURNING ${productColumns}`,
        [product.id, product.sku, product.name, product.description, product.currency, product.priceMinor],
      );
      return productFrom(row!);
    } catch (err) {
      if (isUniqueViolation(err)) throw new DuplicateSkuError(product.sku);
      throw err;
    }
  }

  /**
   * Inserts `products` only while the catalog is empty, in one statement: replicas starting
   * together insert them once and none fails. Returns how many it inserted.
   */
  createAllIfEmpty(products: readonly NewProduct[]): Promise<number> {
    return this.db.execute(
      `INSERT INTO products (id, sku, name, description, currency, price_minor, updated_at)
       SELECT id, sku, name, description, currency, price_minor, now()
       FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::char(3)[], $6::bigint[])
         AS p (id, sku, name, description, currency, price_minor)
       WHERE NOT EXISTS (SELECT FROM products)
       ON CONFLICT DO NOTHING`,
      [
        products.map((p) => p.id),
        products.map((p) => p.sku),
        products.map((p) => p.name),
        products.map((p) => p.description),
        products.map((p) => p.currency),
        products.map((p) => p.priceMinor),
      ],
    );
  }

  async get(id: string): Promise<Product | null> {
    const [row] = await this.db.query<ProductRow>(`SELECT ${productColumns} FROM products WHERE id = $1::uuid`, [id]);
    return row ? productFrom(row) : null;
  }

  /** The products of `ids` that exist, in no particular order. */
  async getMany(ids: readonly string[]): Promise<Product[]> {
    const rows = await this.db.query<ProductRow>(`SELECT ${productColumns} FROM products WHERE id = ANY($1::uuid[])`, [ids]);
    return rows.map(productFrom);
  }

  /** Products ordered by creation time then id, strictly after the cursor. */
  async list(limit: number, after?: PageEnd): Promise<Product[]> {
    const rows = after
      ? await this.db.query<ProductRow>(
          `SELECT ${productColumns} FROM products
           WHERE (created_at, id) > ($1::timestamptz, $2::uuid)
           ORDER BY created_at, id LIMIT $3`,
          [after.time, after.id, limit],
        )
      : await this.db.query<ProductRow>(`SELECT ${productColumns} FROM products ORDER BY created_at, id LIMIT $1`, [limit]);
    return rows.map(productFrom);
  }

  async updatePrice(id: string, currency: string, priceMinor: bigint): Promise<Product | null> {
    const [row] = await this.db.query<ProductRow>(
      `UPDATE products SET currency = $2, price_minor = $3, updated_at = now()
       WHERE id = $1::uuid
       RETURNING ${productColumns}`,
      [id, currency, priceMinor],
    );
    return row ? productFrom(row) : null;
  }
}
