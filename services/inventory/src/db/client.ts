import { databaseAdapter } from "@shop/runtime";
import { PrismaClient } from "./generated/client.js";

export type InventoryDb = PrismaClient;

export function createInventoryDb(databaseUrl: string, poolSize?: number): InventoryDb {
  return new PrismaClient({ adapter: databaseAdapter(databaseUrl, poolSize) });
}
