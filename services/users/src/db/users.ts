import { isUniqueViolation, type SqlDatabase } from "@shop/runtime";
import type { NewUser, Role, User } from "../domain/user.js";

export class DuplicateEmailError extends Error {
  constructor(readonly email: string) {
    super(`a user with email ${email} already exists`);
    this.name = "DuplicateEmailError";
  }
}

interface UserRow {
  id: string;
  email: string;
  name: string;
  role: Role;
  password_hash: string;
  created_at: Date;
  updated_at: Date;
}

const userColumns = `id, email, name, role, password_hash, created_at, updated_at`;

const userFrom = (row: UserRow): User => ({
  id: row.id,
  email: row.email,
  name: row.name,
  role: row.role,
  passwordHash: row.password_hash,
  createdAt: row.created_at,
  updatedAt: row.updated_at,
});

/** Accounts in SQL; the only code that touches the users table. Emails arrive normalised. */
export class UserRepository {
  constructor(private readonly db: SqlDatabase) {}

  /** The unique index decides between concurrent registrations of one email. */
  async create(user: NewUser): Promise<User> {
    try {
      const [row] = await this.db.query<UserRow>(
        `INSERT INTO users (id, email, name, role, password_hash, updated_at)
         VALUES ($1::uuid, $2, $3, $4::user_role, $5, now())
         RETURNING ${userColumns}`,
        [user.id, user.email, user.name, user.role, user.passwordHash],
      );
      return userFrom(row!);
    } catch (err) {
      if (isUniqueViolation(err)) throw new DuplicateEmailError(user.email);
      throw err;
    }
  }

  async get(id: string): Promise<User | null> {
    const [row] = await this.db.query<UserRow>(`SELECT ${userColumns} FROM users WHERE id = $1::uuid`, [id]);
    return row ? userFrom(row) : null;
  }

  async findByEmail(email: string): Promise<User | null> {
    const [row] = await this.db.query<UserRow>(`SELECT ${userColumns} FROM users WHERE email = $1`, [email]);
    return row ? userFrom(row) : null;
  }

  async setPasswordHash(id: string, passwordHash: string): Promise<void> {
    await this.db.execute(`UPDATE users SET password_hash = $2, updated_at = now() WHERE id = $1::uuid`, [id, passwordHash]);
  }
}
