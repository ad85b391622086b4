import { randomBytes, randomUUID } from "node:crypto";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import { Role as RoleMessage, type UserSchema, type UserService } from "@shop/contracts/shop/users/v1/users_pb.js";
import { errors, issueUserToken, requireOwnerOrAdmin, type SigningKey } from "@shop/runtime";
import { DuplicateEmailError, type UserRepository } from "../db/users.js";
import { normaliseEmail } from "../domain/email.js";
import { hashPassword, verifyPassword } from "../domain/password.js";
import { normaliseName, type Role, type User } from "../domain/user.js";

const roleMessages: Record<Role, RoleMessage> = { customer: RoleMessage.CUSTOMER, admin: RoleMessage.ADMIN };

/** The public view of an account: never the password hash. */
export function toUserMessage(user: User): MessageInitShape<typeof UserSchema> {
  return {
    id: user.id,
    email: user.email,
    name: user.name,
    role: roleMessages[user.role],
    createTime: timestampFromDate(user.createdAt),
  };
}

const badCredentials = () => errors.unauthenticated("invalid email or password");

/** How access tokens are issued: with which key, for which issuer and audience, for how long. */
export interface TokenIssuing {
  key: SigningKey;
  issuer: string;
  audience: string;
  ttlSeconds: number;
}

export async function userHandlers(users: UserRepository, tokens: TokenIssuing): Promise<ServiceImpl<typeof UserService>> {
  // Verified against when the email is unknown, so both failures cost the same scrypt work.
  const decoyHash = await hashPassword(randomBytes(32).toString("base64url"));

  return {
    async registerUser(req) {
      const name = normaliseName(req.name);
      if (name === undefined) throw errors.invalidArgument("name", "must not be blank");
      const email = normaliseEmail(req.email);
      try {
        const user = await users.create({
          id: randomUUID(),
          email,
          name,
          role: "customer",
          passwordHash: await hashPassword(req.password),
        });
        return { user: toUserMessage(user) };
      } catch (err) {
        if (err instanceof DuplicateEmailError) throw errors.alreadyExists(err.message);
        throw err;
      }
    },

    async createToken(req) {
      const user = await users.findByEmail(normaliseEmail(req.email));
      const matches = await verifyPassword(req.password, user?.passwordHash ?? decoyHash);
      if (!user || !matches) throw badCredentials();
      const accessToken = issueUserToken(tokens.key, tokens, { userId: user.id, role: user.role });
      return { accessToken, expiresIn: tokens.ttlSeconds, tokenType: "Bearer" };
    },

    async getUser(req, ctx) {
      // An account is its own owner, so access is decided before looking it up: callers cannot
      // probe which ids exist.
      requireOwnerOrAdmin(ctx, req.userId);
      const user = await users.get(req.userId);
      if (!user) throw errors.notFound("user", req.userId);
      return { user: toUserMessage(user) };
    },
  };
}
