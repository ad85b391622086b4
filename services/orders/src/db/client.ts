import { databaseAdapter } from "@shop/runtime";
import { PrismaClient } from "./generated/client.js";

export type OrdersDb = PrismaClient;

export function createOrdersDb(databaseUrl: string, poolSize?: number): OrdersDb {
  return new PrismaClient({ adapter: databaseAdapter(databaseUrl, poolSize) });
}
