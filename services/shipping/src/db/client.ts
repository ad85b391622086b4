import { databaseAdapter } from "@shop/runtime";
import { PrismaClient } from "./generated/client.js";

export type ShippingDb = PrismaClient;

export function createShippingDb(databaseUrl: string, poolSize?: number): ShippingDb {
  return new PrismaClient({ adapter: databaseAdapter(databaseUrl, poolSize) });
}
