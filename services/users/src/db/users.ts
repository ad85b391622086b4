import type { NewUser, User } from "../domain/user.js";
import type { UsersDb } from "./client.js";

export class DuplicateEmailError extends Error {
  constructor(readonly email: string) {
    super(`a user with email ${email} already exists`);
    this.name = "DuplicateEmailError";
  }
}

const isUniqueViolation = (err: unknown) => (err as { code?: string }).code === "P2002";

/** Accounts over Prisma; the only code that touches the users table. Emails arrive normalised. */
export class UserRepository {
  constructor(private readonly db: UsersDb) {}

  /** The unique index decides between concurrent registrations of one email. */
  async create(user: NewUser): Promise<User> {
    try {
      return await this.db.user.create({ data: user });
    } catch (err) {
      if (isUniqueViolation(err)) throw new DuplicateEmailError(user.email);
      throw err;
    }
  }

  get(id: string): Promise<User | null> {
    return this.db.user.findUnique({ where: { id } });
  }

  findByEmail(email: string): Promise<User | null> {
    return this.db.user.findUnique({ where: { email } });
  }
}
