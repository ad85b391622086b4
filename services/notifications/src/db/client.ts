import { PrismaPg } from "@prisma/adapter-pg";
import { PrismaClient } from "./generated/client.js";

export type NotificationsDb = PrismaClient;

export function createNotificationsDb(databaseUrl: string): NotificationsDb {
  return new PrismaClient({ adapter: new PrismaPg({ connectionString: databaseUrl }) });
}
