import { databaseAdapter } from "@shop/runtime";
import { PrismaClient } from "./generated/client.js";

export type PaymentsDb = PrismaClient;

export function createPaymentsDb(databaseUrl: string, poolSize?: number): PaymentsDb {
  return new PrismaClient({ adapter: databaseAdapter(databaseUrl, poolSize) });
}
