import { randomUUID } from "node:crypto";
import type { Logger } from "@shop/runtime";
import { DuplicateEmailError, type UserRepository } from "./db/users.js";
import { normaliseEmail } from "./domain/email.js";
import { hashPassword } from "./domain/password.js";

/**
 * Creates the development admin account when no account has its email. An existing account is
 * left as it is (its password and role may have been changed on purpose).
 */
export async function seedAdmin(users: UserRepository, admin: { email: string; password: string }, logger: Logger): Promise<void> {
  const email = normaliseEmail(admin.email);
  const existing = await users.findByEmail(email);
  if (existing) {
    if (existing.role !== "admin") logger.warn({ email }, "the admin email belongs to an account without the admin role");
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
