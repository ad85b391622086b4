import { PrismaPg } from "@prisma/adapter-pg";
import { PrismaClient } from "./generated/client.js";

export type PaymentsDb = PrismaClient;

export function createPaymentsDb(databaseUrl: string): PaymentsDb {
  return new PrismaClient({ adapter: new PrismaPg({ connectionString: databaseUrl }) });
}
