export type Role = "customer" | "admin";

/** An account as the users service owns it; the password only ever as its hash. */
export interface User {
  id: string;
  email: string;
  name: string;
  role: Role;
  passwordHash: string;
  createdAt: Date;
  updatedAt: Date;
}

export type NewUser = Pick<User, "id" | "email" | "name" | "role" | "passwordHash">;

/** A display name without surrounding blanks; undefined when nothing but blanks is left. */
export function normaliseName(name: string): string | undefined {
  const trimmed = name.trim();
  return trimmed === "" ? undefined : trimmed;
}
