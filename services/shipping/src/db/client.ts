import { PrismaPg } from "@prisma/adapter-pg";
import { PrismaClient } from "./generated/client.js";

export type ShippingDb = PrismaClient;

export function createShippingDb(databaseUrl: string): ShippingDb {
  return new PrismaClient({ adapter: new PrismaPg({ connectionString: databaseUrl }) });
}
