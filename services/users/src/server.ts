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
  const tokens = {
    key: config.USERS_TOKEN_SIGNING_KEY,
    issuer: config.tokens.userIssuer,
    audience: config.tokens.userAudience,
    ttlSeconds: config.USERS_TOKEN_TTL_SECONDS,
  };
  return { registrations: [registration(UserService, await userHandlers(users, tokens))] };
}
