import { UserService } from "@shop/contracts/shop/users/v1/users_pb.js";
import { registration, type ServiceDeps, type StartedParts } from "@shop/runtime";
import type { UsersConfig } from "./config.js";
import { SignInFailureRepository } from "./db/sign-in-failures.js";
import { UserRepository } from "./db/users.js";
import { passwordWorkLimiter, userHandlers } from "./handlers/user-handlers.js";
import { seedAdmin } from "./seed.js";

/** Wires the users service: admin account, handlers, pruning of ended sign-in windows. No listening here. */
export async function buildUsers({ config, logger, db }: ServiceDeps<UsersConfig>): Promise<StartedParts> {
  const users = new UserRepository(db);
  const failures = new SignInFailureRepository(db);
  await seedAdmin(users, { email: config.ADMIN_EMAIL, password: config.ADMIN_PASSWORD }, logger);
  const tokens = {
    key: config.USERS_TOKEN_SIGNING_KEY,
    issuer: config.tokens.userIssuer,
    audience: config.tokens.userAudience,
    ttlSeconds: config.USERS_TOKEN_TTL_SECONDS,
  };
  const throttle = { maxFailures: config.USERS_SIGN_IN_MAX_FAILURES, windowMs: config.USERS_SIGN_IN_WINDOW_SECONDS * 1000 };
  const passwordWork = passwordWorkLimiter({
    concurrency: config.USERS_PASSWORD_WORK_CONCURRENCY,
    queue: config.USERS_PASSWORD_WORK_QUEUE,
  });
  const pruning = setInterval(() => {
    failures.pruneEnded(throttle.windowMs).catch((err: unknown) => logger.warn({ err }, "pruning ended sign-in windows failed"));
  }, throttle.windowMs);
  pruning.unref();
  return {
    registrations: [registration(UserService, await userHandlers(users, tokens, { failures, throttle, passwordWork }))],
    stop: async () => clearInterval(pruning),
  };
}
