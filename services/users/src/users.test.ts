import path from "node:path";
import { Code, ConnectError } from "@connectrpc/connect";
import { Role, UserService } from "@shop/contracts/shop/users/v1/users_pb.js";
import {
  createServiceClient,
  createTokenVerifier,
  generateDevelopmentKey,
  publicKeySet,
  type RunningService,
  startService,
} from "@shop/runtime";
import { adminHeaders, callerHeaders, createTestDatabase, credentialsEnv, failureOf, type TestDatabase } from "@shop/runtime/testing";
import { decodeJwt } from "jose";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadUsersConfig, type UsersConfig } from "./config.js";
import { passwordWorkLimiter } from "./handlers/user-handlers.js";
import { buildUsers } from "./server.js";

const serviceDir = path.resolve(import.meta.dirname, "..");
const adminEmail = "Root@Shop.Test";
const adminPassword = "root-password-1";
const ttlSeconds = 900;

let db: TestDatabase;
let config: UsersConfig;
let service: RunningService;
let client: ReturnType<typeof createServiceClient<typeof UserService>>;

async function queryDb<T extends pg.QueryResultRow>(sql: string, values: unknown[]): Promise<T[]> {
  const connection = new pg.Client({ connectionString: db.url });
  await connection.connect();
  try {
    return (await connection.query<T>(sql, values)).rows;
  } finally {
    await connection.end();
  }
}

const configFor = (overrides: NodeJS.ProcessEnv = {}) =>
  loadUsersConfig({
    USERS_HOST: "127.0.0.1",
    USERS_PORT: "0",
    USERS_METRICS_PORT: "0",
    USERS_DATABASE_URL: db.url,
    ADMIN_EMAIL: adminEmail,
    ADMIN_PASSWORD: adminPassword,
    USERS_TOKEN_TTL_SECONDS: String(ttlSeconds),
    LOG_LEVEL: "silent",
    ...credentialsEnv("users"),
    ...overrides,
  });

let registered = 0;
async function registerCustomer(name = "Customer") {
  const email = `customer-${++registered}@shop.test`;
  const { user } = await client.registerUser({ email, name, password: "customer-password" });
  return user!;
}

beforeAll(async () => {
  db = await createTestDatabase("users", serviceDir);
  config = configFor();
  service = await startService({ context: "users", serviceDir, config, start: buildUsers });
  client = createServiceClient(UserService, { address: service.grpc.address });
});

afterAll(async () => {
  client?.close();
  await service?.stop();
  await db?.drop();
});

describe("registration", () => {
  it("creates a customer with a lower-cased email and a scrypt hash of the password", async () => {
    const { user } = await client.registerUser({
      email: "Ada.Lovelace@Example.COM",
      name: "  Ada Lovelace ",
      password: "analytical-engine",
    });
    expect(user?.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(user?.email).toBe("ada.lovelace@example.com");
    expect(user?.name).toBe("Ada Lovelace");
    expect(user?.role).toBe(Role.CUSTOMER);
    expect(user?.createTime).toBeDefined();
    const [row] = await queryDb<{ password_hash: string }>("SELECT password_hash FROM users WHERE id = $1", [user!.id]);
    expect(row?.password_hash).toMatch(/^scrypt\$\d+\$\d+\$\d+\$[\w-]+\$[\w-]+$/);
    expect(row?.password_hash).not.toContain("analytical-engine");
  });

  it("rejects an email already taken in another case with ALREADY_EXISTS naming it", async () => {
    await client.registerUser({ email: "grace@example.com", name: "Grace", password: "cobol-rules" });
    const err = await failureOf(client.registerUser({ email: "Grace@EXAMPLE.com", name: "Other Grace", password: "cobol-rules-2" }));
    expect(err.code).toBe(Code.AlreadyExists);
    expect(err.message).toContain("grace@example.com");
  });

  it("lets exactly one of several concurrent registrations of one email win", async () => {
    const spellings = ["race@shop.test", "RACE@shop.test", "Race@Shop.Test", "race@SHOP.TEST"];
    const results = await Promise.allSettled(
      spellings.map((email, i) => client.registerUser({ email, name: `Racer ${i}`, password: `race-password-${i}` })),
    );
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    const losers = results.flatMap((r) => (r.status === "rejected" ? [ConnectError.from(r.reason)] : []));
    expect(losers.map((e) => e.code)).toEqual([Code.AlreadyExists, Code.AlreadyExists, Code.AlreadyExists]);
    const rows = await queryDb<{ count: string }>("SELECT count(*) FROM users WHERE lower(email) = $1", ["race@shop.test"]);
    expect(rows[0]?.count).toBe("1");
  });

  it.each([
    [{ email: "not-an-email", name: "X", password: "long-enough" }, "email"],
    [{ email: "", name: "X", password: "long-enough" }, "email"],
    [{ email: "short@shop.test", name: "X", password: "short" }, "password"],
    [{ email: "noname@shop.test", name: "", password: "long-enough" }, "name"],
    [{ email: "blank@shop.test", name: "   ", password: "long-enough" }, "name"],
    [{ email: "long@shop.test", name: "n".repeat(101), password: "long-enough" }, "name"],
  ])("rejects %o with INVALID_ARGUMENT naming %s", async (input, field) => {
    const err = await failureOf(client.registerUser(input));
    expect(err.code).toBe(Code.InvalidArgument);
    expect(err.message).toContain(`${field}:`);
  });
});

describe("access tokens", () => {
  it("issues a verifiable Bearer token for the right password, whatever the email case", async () => {
    const user = await registerCustomer();
    const before = Math.floor(Date.now() / 1000);
    const token = await client.createToken({ email: user.email.toUpperCase(), password: "customer-password" });
    expect(token.tokenType).toBe("Bearer");
    expect(token.expiresIn).toBe(ttlSeconds);
    expect(await createTokenVerifier(config.tokens).verify(token.accessToken)).toEqual({ kind: "user", userId: user.id, role: "customer" });
    const claims = decodeJwt(token.accessToken);
    expect(claims).toMatchObject({ sub: user.id, role: "customer", iss: config.tokens.userIssuer, aud: config.tokens.userAudience });
    expect(claims.exp! - claims.iat!).toBe(ttlSeconds);
    expect(claims.exp!).toBeGreaterThanOrEqual(before + ttlSeconds);
    expect(claims.exp!).toBeLessThanOrEqual(Math.ceil(Date.now() / 1000) + ttlSeconds);
  });

  it("signs tokens that a verifier with another audience or other keys refuses", async () => {
    const user = await registerCustomer();
    const { accessToken } = await client.createToken({ email: user.email, password: "customer-password" });
    await expect(createTokenVerifier({ ...config.tokens, userAudience: "someone-else" }).verify(accessToken)).rejects.toMatchObject({
      code: Code.Unauthenticated,
    });
    // Another key under the same kid: the signature, not a missing key, is what fails.
    const other = generateDevelopmentKey();
    const otherKeys = publicKeySet({ ...other, jwk: { ...other.jwk, kid: config.tokens.userKeys.keys[0]!.kid } });
    await expect(createTokenVerifier({ ...config.tokens, userKeys: otherKeys }).verify(accessToken)).rejects.toMatchObject({
      code: Code.Unauthenticated,
    });
  });

  it("answers a wrong password and an unknown email alike with UNAUTHENTICATED", async () => {
    const user = await registerCustomer();
    const wrongPassword = await failureOf(client.createToken({ email: user.email, password: "not-the-password" }));
    const unknownEmail = await failureOf(client.createToken({ email: "nobody@shop.test", password: "customer-password" }));
    expect(wrongPassword).toEqual({ code: Code.Unauthenticated, message: "invalid email or password" });
    expect(unknownEmail).toEqual(wrongPassword);
  });

  it.each([
    [{ email: "", password: "x" }, "email"],
    [{ email: "a@shop.test", password: "" }, "password"],
  ])("rejects %o with INVALID_ARGUMENT naming %s", async (input, field) => {
    const err = await failureOf(client.createToken(input));
    expect(err.code).toBe(Code.InvalidArgument);
    expect(err.message).toContain(`${field}:`);
  });
});

describe("failed sign-ins per account", () => {
  const guess = (email: string, password = "wrong-password") => failureOf(client.createToken({ email, password }));
  const retryAfterOf = async (email: string) => {
    try {
      await client.createToken({ email, password: "customer-password" });
    } catch (err) {
      return { code: ConnectError.from(err).code, retryAfter: ConnectError.from(err).metadata.get("retry-after") };
    }
    throw new Error("sign-in succeeded");
  };

  it("refuses the sixth try within the window, the right password too, without checking it, and says when to retry", async () => {
    const user = await registerCustomer();
    for (let i = 0; i < 5; i++) expect((await guess(user.email)).code).toBe(Code.Unauthenticated);
    const refused = await guess(user.email, "customer-password");
    expect(refused).toEqual({ code: Code.ResourceExhausted, message: expect.stringMatching(/^too many failed sign-ins for this account/) });
    const { retryAfter } = await retryAfterOf(user.email);
    expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
    expect(Number(retryAfter)).toBeLessThanOrEqual(60);
  });

  it("counts the email whatever its case, and unknown emails alike", async () => {
    const user = await registerCustomer();
    for (let i = 0; i < 5; i++) await guess(i % 2 ? user.email.toUpperCase() : user.email);
    expect((await guess(user.email)).code).toBe(Code.ResourceExhausted);
    for (let i = 0; i < 5; i++) await guess("nobody-here@shop.test");
    expect((await guess("nobody-here@shop.test")).code).toBe(Code.ResourceExhausted);
  });

  it("lets the account in once its window has ended, and a success forgets the failures", async () => {
    const user = await registerCustomer();
    for (let i = 0; i < 5; i++) await guess(user.email);
    await queryDb(`UPDATE sign_in_failures SET window_started_at = now() - interval '61 seconds' WHERE email = $1`, [user.email]);
    expect((await client.createToken({ email: user.email, password: "customer-password" })).accessToken).toBeTruthy();
    expect(await queryDb(`SELECT 1 FROM sign_in_failures WHERE email = $1`, [user.email])).toEqual([]);
    for (let i = 0; i < 4; i++) await guess(user.email);
    expect((await client.createToken({ email: user.email, password: "customer-password" })).accessToken).toBeTruthy();
  });

  it("is shared by every replica, since the failures are in the database", async () => {
    const other = await startService({ context: "users", serviceDir, config, start: buildUsers });
    const otherClient = createServiceClient(UserService, { address: other.grpc.address });
    try {
      const user = await registerCustomer();
      for (let i = 0; i < 5; i++) await guess(user.email);
      expect((await failureOf(otherClient.createToken({ email: user.email, password: "customer-password" }))).code).toBe(
        Code.ResourceExhausted,
      );
    } finally {
      otherClient.close();
      await other.stop();
    }
  });
});

describe("password work", () => {
  it("runs at most its concurrency at once, queues a bounded number, and tells the rest to retry", async () => {
    const limit = passwordWorkLimiter({ concurrency: 1, queue: 1 });
    const releases: (() => void)[] = [];
    const held = () => new Promise<void>((resolve) => releases.push(resolve));
    const running = limit(held);
    const queued = limit(async () => "queued ran");
    const refused = await limit(async () => "never").catch((err: unknown) => ConnectError.from(err));
    expect(refused).toMatchObject({ code: Code.ResourceExhausted, rawMessage: "too many password checks in progress: retry after 1 s" });
    expect((refused as ConnectError).metadata.get("retry-after")).toBe("1");
    releases[0]!();
    await running;
    expect(await queued).toBe("queued ran");
  });
});

describe("seeded admin account", () => {
  it("exists with the admin role and gets it in its token", async () => {
    const { accessToken } = await client.createToken({ email: "root@shop.test", password: adminPassword });
    const claims = await createTokenVerifier(config.tokens).verify(accessToken);
    expect(claims).toMatchObject({ kind: "user", role: "admin" });
    const adminId = (claims as { userId: string }).userId;
    const { user } = await client.getUser({ userId: adminId }, { headers: callerHeaders(adminId, "admin") });
    expect(user).toMatchObject({ email: "root@shop.test", role: Role.ADMIN });
  });

  it("takes the password of a later start's ADMIN_PASSWORD, and stays one account", async () => {
    const again = await startService({
      context: "users",
      serviceDir,
      config: configFor({ ADMIN_PASSWORD: "changed-password" }),
      start: buildUsers,
    });
    await again.stop();
    const admins = await queryDb<{ id: string }>("SELECT id FROM users WHERE role = 'admin'", []);
    expect(admins).toHaveLength(1);
    expect((await client.createToken({ email: adminEmail, password: "changed-password" })).accessToken).not.toBe("");
    const previous = await failureOf(client.createToken({ email: adminEmail, password: adminPassword }));
    expect(previous.code).toBe(Code.Unauthenticated);
    const restored = await startService({ context: "users", serviceDir, config: configFor(), start: buildUsers });
    await restored.stop();
    expect((await client.createToken({ email: adminEmail, password: adminPassword })).accessToken).not.toBe("");
  });
});

describe("reading an account", () => {
  it("lets a customer read their own account", async () => {
    const user = await registerCustomer("Self Reader");
    const { user: got } = await client.getUser({ userId: user.id }, { headers: callerHeaders(user.id) });
    expect(got).toMatchObject({ id: user.id, email: user.email, name: "Self Reader", role: Role.CUSTOMER });
  });

  it("lets an admin read any account", async () => {
    const user = await registerCustomer();
    const { user: got } = await client.getUser({ userId: user.id }, { headers: adminHeaders() });
    expect(got?.id).toBe(user.id);
  });

  it("denies another customer with PERMISSION_DENIED and an anonymous caller with UNAUTHENTICATED", async () => {
    const user = await registerCustomer();
    const other = await registerCustomer();
    expect((await failureOf(client.getUser({ userId: user.id }, { headers: callerHeaders(other.id) }))).code).toBe(Code.PermissionDenied);
    expect((await failureOf(client.getUser({ userId: user.id }))).code).toBe(Code.Unauthenticated);
  });

  it("answers NOT_FOUND for an unknown id and INVALID_ARGUMENT naming userId for a malformed one", async () => {
    const unknown = "00000000-0000-4000-8000-000000000000";
    const missing = await failureOf(client.getUser({ userId: unknown }, { headers: adminHeaders() }));
    expect(missing.code).toBe(Code.NotFound);
    expect(missing.message).toContain(unknown);
    const malformed = await failureOf(client.getUser({ userId: "nope" }, { headers: adminHeaders() }));
    expect(malformed.code).toBe(Code.InvalidArgument);
    expect(malformed.message).toContain("userId:");
  });

  it("does not tell a customer whether someone else's id exists", async () => {
    const caller = await registerCustomer();
    const err = await failureOf(client.getUser({ userId: "00000000-0000-4000-8000-000000000000" }, { headers: callerHeaders(caller.id) }));
    expect(err.code).toBe(Code.PermissionDenied);
  });
});
