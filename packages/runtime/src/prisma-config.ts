import path from "node:path";
import { PrismaPg } from "@prisma/adapter-pg";
import pg from "pg";
import { defineConfig } from "prisma/config";

// PostgreSQL reports catalog columns of type `name` (OID 19), which the driver adapter
// cannot map (prisma/orm#27403); present them as text (OID 25) so the WebAssembly schema
// engine can migrate without downloading a native one.
class CatalogSafePool extends pg.Pool {
  override async query(...args: unknown[]): Promise<never> {
    const result = await (super.query as (...a: unknown[]) => Promise<{ fields?: { dataTypeID: number }[] }>)(...args);
    for (const field of result?.fields ?? []) if (field.dataTypeID === 19) field.dataTypeID = 25;
    return result as never;
  }
}

/** The prisma.config.ts of a service whose folder is `serviceDir`. */
export function servicePrismaConfig(serviceDir: string) {
  return defineConfig({
    experimental: { adapter: true },
    engine: "js",
    schema: path.join(serviceDir, "prisma/schema.prisma"),
    migrations: { path: path.join(serviceDir, "prisma/migrations") },
    adapter: async () =>
      new PrismaPg(new CatalogSafePool({ connectionString: process.env.DATABASE_URL, allowExitOnIdle: true, idleTimeoutMillis: 100 })),
  });
}
