import { databaseAdapter } from "@shop/runtime";
import { PrismaClient } from "./generated/client.js";

export type UsersDb = PrismaClient;

export function createUsersDb(databaseUrl: string, poolSize?: number): UsersDb {
  return new PrismaClient({ adapter: databaseAdapter(databaseUrl, poolSize) });
}
