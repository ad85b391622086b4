import { randomBytes, randomUUID } from "node:crypto";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import { Role as RoleMessage, type UserSchema, type UserService } from "@shop/contracts/shop/users/v1/users_pb.js";
import { errors, issueUserToken, requireOwnerOrAdmin, type SigningKey } from "@shop/runtime";
import { BulkheadRejectedError, bulkhead } from "cockatiel";
import type { SignInFailureRepository } from "../db/sign-in-failures.js";
import { DuplicateEmailError, type UserRepository } from "../db/users.js";
import { normaliseEmail } from "../domain/email.js";
import { hashPassword, verifyPassword } from "../domain/password.js";
import { type SignInThrottleRules, signInDecision } from "../domain/sign-in-throttle.js";
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

const retryLater = (message: string, retryAfterSeconds: number) =>
  new ConnectError(message, Code.ResourceExhausted, { "retry-after": String(retryAfterSeconds) });

/**
 * Runs password hashing and checks (scrypt, about 0.1 s of CPU each) at most `concurrency` at a
 * time with a bounded queue: past it, callers are told to retry instead of queueing without
 * bound behind the thread pool every other call needs too.
 */
export function passwordWorkLimiter(limits: { concurrency: number; queue: number }) {
  const policy = bulkhead(limits.concurrency, limits.queue);
  return async <T>(work: () => Promise<T>): Promise<T> => {
    try {
      return await policy.execute(work);
    } catch (err) {
      if (err instanceof BulkheadRejectedError) throw retryLater("too many password checks in progress: retry after 1 s", 1);
      throw err;
    }
  };
}

/** What guards the password methods: the failed sign-ins of each account, and password work. */
export interface SignInGuard {
  failures: SignInFailureRepository;
  throttle: SignInThrottleRules;
  passwordWork: ReturnType<typeof passwordWorkLimiter>;
}

/** How access tokens are issued: with which key, for which issuer and audience, for how long. */
export interface TokenIssuing {
  key: SigningKey;
  issuer: string;
  audience: string;
  ttlSeconds: number;
}

export async function userHandlers(
  users: UserRepository,
  tokens: TokenIssuing,
  { failures, throttle, passwordWork }: SignInGuard,
): Promise<ServiceImpl<typeof UserService>> {
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
          passwordHash: await passwordWork(() => hashPassword(req.password)),
        });
        return { user: toUserMessage(user) };
      } catch (err) {
        if (err instanceof DuplicateEmailError) throw errors.alreadyExists(err.message);
        throw err;
      }
    },

    async createToken(req) {
      const email = normaliseEmail(req.email);
      const failed = await failures.get(email);
      const decision = failed ? signInDecision(failed.recorded, failed.now, throttle) : ({ allowed: true } as const);
      if (!decision.allowed) {
        throw retryLater(
          `too many failed sign-ins for this account: retry after ${decision.retryAfterSeconds} s`,
          decision.retryAfterSeconds,
        );
      }
      const user = await users.findByEmail(email);
      const matches = await passwordWork(() => verifyPassword(req.password, user?.passwordHash ?? decoyHash));
      if (!user || !matches) {
        await failures.recordFailure(email, throttle.windowMs);
        throw badCredentials();
      }
      if (failed) await failures.clear(email);
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
