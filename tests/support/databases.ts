import type { ShopContext } from "@shop/contracts";
import type { Sql } from "@shop/runtime";
import pg from "pg";

/**
 * Plain SQL on each service's own database, for checks that look across services (which no
 * service may do itself). One small pool per database.
 */
export class ServiceDatabases {
  private readonly pools = new Map<ShopContext, pg.Pool>();

  constructor(private readonly urlOf: (context: ShopContext) => string) {}

  private pool(context: ShopContext): pg.Pool {
    let pool = this.pools.get(context);
    if (!pool) {
      pool = new pg.Pool({ connectionString: this.urlOf(context), max: 2 });
      pool.on("error", () => undefined);
      this.pools.set(context, pool);
    }
    return pool;
  }

  async query<Row extends object>(context: ShopContext, text: string, values: unknown[] = []): Promise<Row[]> {
    return (await this.pool(context).query<Row>(text, values)).rows;
  }

  /** The database of `context` as the runtime's `Sql`, for reading it with the services' own code. */
  sqlOf(context: ShopContext): Sql {
    return {
      query: (text, values = []) => this.query(context, text, [...values]),
      execute: async (text, values = []) => (await this.pool(context).query(text, [...values])).rowCount ?? 0,
      afterCommit: (callback) => callback(),
    };
  }

  async close(): Promise<void> {
    await Promise.all([...this.pools.values()].map((pool) => pool.end()));
    this.pools.clear();
  }
}
