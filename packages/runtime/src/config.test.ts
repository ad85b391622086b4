import { describe, expect, it } from "vitest";
import { ConfigError, env, loadConfig } from "./config.js";

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
