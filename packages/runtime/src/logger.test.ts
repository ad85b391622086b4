import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { createLogger } from "./logger.js";

function capture() {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      lines.push(String(chunk));
      done();
    },
  });
  return { logger: createLogger("test", "debug", destination as never), text: () => lines.join("") };
}

describe("logs redact secrets", () => {
  const secrets = {
    bearer: "eyJhbGciOiJFZERTQSJ9.c2VjcmV0.c2ln",
    password: "correct horse battery staple",
    databasePassword: "pg-s3cret",
    natsPassword: "nats-s3cret",
    signingKey: "d-of-the-private-jwk",
  };

  it("never writes a credential, password, token, key or URL password, wherever it sits", () => {
    const { logger, text } = capture();
    logger.info({ authorization: `Bearer ${secrets.bearer}` }, "call");
    logger.info(
      { request: { email: "a@b.c", password: secrets.password }, headers: { authorization: `Bearer ${secrets.bearer}` } },
      "login",
    );
    logger.warn({ call: { metadata: { authorization: `Bearer ${secrets.bearer}` } } }, "rpc");
    logger.info({ response: { accessToken: secrets.bearer, tokenType: "Bearer" } }, "token issued");
    logger.error({ config: { USERS_TOKEN_SIGNING_KEY: secrets.signingKey, ADMIN_PASSWORD: secrets.password } }, "config");
    logger.info({ databaseUrl: `postgresql://users:${secrets.databasePassword}@db:5432/shop_users` }, "connecting");
    logger.info({ nats: { natsUrl: `nats://orders:${secrets.natsPassword}@nats:4222` } }, "connecting");
    const written = text();
    for (const secret of Object.values(secrets)) expect(written).not.toContain(secret);
    expect(written).toContain('"tokenType":"Bearer"');
    expect(written).toContain("postgresql://users:[redacted]@db:5432/shop_users");
    expect(written).toContain("nats://orders:[redacted]@nats:4222");
    expect(written.match(/\[redacted\]/g)?.length).toBeGreaterThanOrEqual(8);
  });
});
