import type { Product, NewProduct } from "../domain/product.js";
import type { CatalogDb } from "./client.js";

export class DuplicateSkuError extends Error {}

const isUniqueViolation = (err: unknown) => (err as { code?: string }).code === "P2002";

/** Products over Prisma; the only code that touches the catalog tables. */
export class ProductRepository {
  constructor(private readonly db: CatalogDb) {}

  async create(product: NewProduct): Promise<Product> {
    try {
      return await this.db.product.create({ data: product });
    } catch (err) {
      if (isUniqueViolation(err)) throw new DuplicateSkuError(product.sku);
      throw err;
    }
  }

  get(id: string): Promise<Product | null> {
    return this.db.product.findUnique({ where: { id } });
  }

  getMany(ids: string[]): Promise<Product[]> {
    return this.db.product.findMany({ where: { id: { in: ids } } });
  }

  /** Products ordered by creation time then id, strictly after the cursor. */
  list(limit: number, after?: { createdAt: Date; id: string }): Promise<Product[]> {
    return this.db.product.findMany({
      where: after
        ? { OR: [{ createdAt: { gt: after.createdAt } }, { createdAt: after.createdAt, id: { gt: after.id } }] }
        : undefined,
      orderBy: [{ createdAt: "asc" }, { id: "asc" }],
      take: limit,
    });
  }

  async updatePrice(id: string, currency: string, priceMinor: bigint): Promise<Product | null> {
    const { count } = await this.db.product.updateMany({ where: { id }, data: { currency, priceMinor } });
    return count === 0 ? null : this.get(id);
  }

  count(): Promise<number> {
    return this.db.product.count();
  }
}
