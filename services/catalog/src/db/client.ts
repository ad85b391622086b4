import { databaseAdapter } from "@shop/runtime";
import { PrismaClient } from "./generated/client.js";

export type CatalogDb = PrismaClient;

export function createCatalogDb(databaseUrl: string, poolSize?: number): CatalogDb {
  return new PrismaClient({ adapter: databaseAdapter(databaseUrl, poolSize) });
}
