import { UserService } from "@shop/contracts/shop/users/v1/users_pb.js";
import { registration, type ServiceDeps, type StartedParts } from "@shop/runtime";
import type { UsersConfig } from "./config.js";
import { UserRepository } from "./db/users.js";
import { userHandlers } from "./handlers/user-handlers.js";
import { seedAdmin } from "./seed.js";

/** Wires the users service: admin account, handlers. No listening here. */
export async function buildUsers({ config, logger, db }: ServiceDeps<UsersConfig>): Promise<StartedParts> {
  const users = new UserRepository(db);
  await seedAdmin(users, { email: config.ADMIN_EMAIL, password: config.ADMIN_PASSWORD }, logger);
  return { registrations: [registration(UserService, await userHandlers(users, config))] };
}
