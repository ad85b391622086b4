import { describe, expect, it } from "vitest";
import { ConfigError, env, loadConfig, productionRefuses } from "./config.js";
import { natsConnectOptions, natsUrlVariable } from "./events/publishing.js";

describe("loadConfig", () => {
  const spec = {
    PORT: env.port(8080),
    NAME: env.string(),
    DEBUG: env.bool(false),
    ORIGINS: env.list([]),
    LEVEL: env.oneOf(["a", "b"], "a"),
  };

  it("applies defaults and parses values", () => {
    expect(loadConfig(spec, { NAME: "shop", DEBUG: "yes", ORIGINS: "http://a, http://b" })).toEqual({
      PORT: 8080,
      NAME: "shop",
      DEBUG: true,
      ORIGINS: ["http://a", "http://b"],
      LEVEL: "a",
    });
  });

  it("lists every problem at once, naming each variable", () => {
    try {
      loadConfig(spec, { PORT: "70000", DEBUG: "maybe", LEVEL: "c" });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).problems).toEqual([
        "PORT must be <= 65535, got 70000",
        "NAME is required",
        'DEBUG must be true or false, got "maybe"',
        'LEVEL must be one of a, b, got "c"',
      ]);
    }
  });

  it("rejects non-integers and bad URLs", () => {
    expect(() => loadConfig({ N: env.int(1) }, { N: "1.5" })).toThrow('N must be an integer, got "1.5"');
    expect(() => loadConfig({ U: env.url() }, { U: "not a url" })).toThrow('U must be a URL, got "not a url"');
  });
});

describe("production refusals", () => {
  const spec = {
    DATABASE_URL: env.connectionUrl(),
    NATS_URL: natsUrlVariable,
    FEATURE: productionRefuses(env.bool(true), (on) => (on ? "is on" : undefined)),
  };
  const open = { DATABASE_URL: "postgresql://postgres@db/shop", NATS_URL: "nats://nats:4222" };
  const closed = { DATABASE_URL: "postgresql://app:pw@db/shop", NATS_URL: "nats://app:pw@nats:4222", FEATURE: "false" };

  it("names every refused variable in production", () => {
    expect(() => loadConfig(spec, { ...open, NODE_ENV: "production" })).toThrow(
      expect.objectContaining({
        problems: [
          "DATABASE_URL has no password, and production connects only with credentials (NODE_ENV=production)",
          "NATS_URL names no user, and production connects to NATS only with credentials (NODE_ENV=production)",
          "FEATURE is on (NODE_ENV=production)",
        ],
      }),
    );
  });

  it("accepts the same values outside production, and credentials in production", () => {
    expect(loadConfig(spec, open).FEATURE).toBe(true);
    expect(loadConfig(spec, { ...closed, NODE_ENV: "production" }).FEATURE).toBe(false);
  });

  it("takes NATS credentials out of the URL for the client, which reads none from it", () => {
    expect(natsConnectOptions("nats://orders:p%40ss@nats-0:4222, nats://nats-1:4222")).toEqual({
      servers: ["nats://nats-0:4222", "nats://nats-1:4222"],
      user: "orders",
      pass: "p@ss",
    });
    expect(natsConnectOptions("127.0.0.1:4222")).toEqual({ servers: ["nats://127.0.0.1:4222"] });
  });
});
