import { randomUUID } from "node:crypto";
import type { Logger } from "@shop/runtime";
import { DuplicateEmailError, type UserRepository } from "./db/users.js";
import { normaliseEmail } from "./domain/email.js";
import { hashPassword, verifyPassword } from "./domain/password.js";

/**
 * Creates the admin account when no account has its email, and gives an existing admin account
 * the configured password when it no longer matches: `ADMIN_PASSWORD` is the admin's password.
 * An account of that email without the admin role is left alone.
 */
export async function seedAdmin(users: UserRepository, admin: { email: string; password: string }, logger: Logger): Promise<void> {
  const email = normaliseEmail(admin.email);
  const existing = await users.findByEmail(email);
  if (existing) {
    if (existing.role !== "admin") {
      logger.warn({ email }, "the admin email belongs to an account without the admin role");
      return;
    }
    if (!(await verifyPassword(admin.password, existing.passwordHash))) {
      await users.setPasswordHash(existing.id, await hashPassword(admin.password));
      logger.info({ email }, "admin password set from ADMIN_PASSWORD");
    }
    return;
  }
  try {
    await users.create({ id: randomUUID(), email, name: "Administrator", role: "admin", passwordHash: await hashPassword(admin.password) });
    logger.info({ email }, "admin account seeded");
  } catch (err) {
    // Another replica seeded it between the lookup and the insert.
    if (!(err instanceof DuplicateEmailError)) throw err;
  }
}
