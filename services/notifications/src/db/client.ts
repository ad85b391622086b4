import { databaseAdapter } from "@shop/runtime";
import { PrismaClient } from "./generated/client.js";

export type NotificationsDb = PrismaClient;

export function createNotificationsDb(databaseUrl: string, poolSize?: number): NotificationsDb {
  return new PrismaClient({ adapter: databaseAdapter(databaseUrl, poolSize) });
}
