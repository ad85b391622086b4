import { readFileSync } from "node:fs";

/** One environment variable: how to parse it and what it defaults to. */
export interface EnvVar<T> {
  parse(raw: string | undefined): T;
  /** Why production (`NODE_ENV=production`) refuses this value, if it does. */
  refusedInProduction?(value: T): string | undefined;
}

/**
 * `variable`, refused in production when `rule` says why: development keys, default passwords,
 * demo data. The rule sits beside the variable, so every process that reads it applies it.
 */
export function productionRefuses<T>(variable: EnvVar<T>, rule: (value: T) => string | undefined): EnvVar<T> {
  return { ...variable, refusedInProduction: rule };
}

export const isProduction = (source: NodeJS.ProcessEnv = process.env): boolean => source.NODE_ENV === "production";

/** Thrown when the environment is invalid; lists every problem at once. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "ConfigError";
  }
}

function required<T>(raw: string | undefined, fallback: T | undefined, parse: (value: string) => T): T {
  if (raw === undefined || raw === "") {
    if (fallback === undefined) throw new Error("is required");
    return fallback;
  }
  return parse(raw);
}

export const env = {
  string(fallback?: string): EnvVar<string> {
    return { parse: (raw) => required(raw, fallback, (v) => v) };
  },
  int(fallback?: number, range: { min?: number; max?: number } = {}): EnvVar<number> {
    return {
      parse: (raw) =>
        required(raw, fallback, (v) => {
          const n = Number(v);
          if (!Number.isInteger(n)) throw new Error(`must be an integer, got "${v}"`);
          if (range.min !== undefined && n < range.min) throw new Error(`must be >= ${range.min}, got ${n}`);
          if (range.max !== undefined && n > range.max) throw new Error(`must be <= ${range.max}, got ${n}`);
          return n;
        }),
    };
  },
  port(fallback?: number): EnvVar<number> {
    return env.int(fallback, { min: 0, max: 65535 });
  },
  bool(fallback?: boolean): EnvVar<boolean> {
    return {
      parse: (raw) =>
        required(raw, fallback, (v) => {
          if (/^(1|true|yes)$/i.test(v)) return true;
          if (/^(0|false|no)$/i.test(v)) return false;
          throw new Error(`must be true or false, got "${v}"`);
        }),
    };
  },
  /** A connection URL; production refuses one without a password (a `trust`-style connection). */
  connectionUrl(fallback?: string): EnvVar<string> {
    return productionRefuses(env.url(fallback), (value) =>
      new URL(value).password === "" ? "has no password, and production connects only with credentials" : undefined,
    );
  },
  url(fallback?: string): EnvVar<string> {
    return {
      parse: (raw) =>
        required(raw, fallback, (v) => {
          try {
            new URL(v);
          } catch {
            throw new Error(`must be a URL, got "${v}"`);
          }
          return v;
        }),
    };
  },
  oneOf<T extends string>(values: readonly T[], fallback?: T): EnvVar<T> {
    return {
      parse: (raw) =>
        required(raw, fallback, (v) => {
          if (!values.includes(v as T)) throw new Error(`must be one of ${values.join(", ")}, got "${v}"`);
          return v as T;
        }),
    };
  },
  /** A JSON value checked by `check`, which throws with what is wrong. */
  json<T>(check: (value: unknown) => T, fallback?: T): EnvVar<T> {
    return {
      parse: (raw) =>
        required(raw, fallback, (v) => {
          let value: unknown;
          try {
            value = JSON.parse(v);
          } catch (err) {
            throw new Error(`must be JSON: ${(err as Error).message}`);
          }
          return check(value);
        }),
    };
  },
  list(fallback?: string[]): EnvVar<string[]> {
    return {
      parse: (raw) =>
        required(raw, fallback, (v) =>
          v
            .split(",")
            .map((s) => s.trim())
            .filter(Boolean),
        ),
    };
  },
};

export type ConfigOf<S> = { [K in keyof S]: S[K] extends EnvVar<infer T> ? T : never };

/**
 * A variable's raw value: its own, or the content of the file `<NAME>_FILE` names (how a
 * mounted Secret is passed); setting both is refused.
 */
function rawValue(source: NodeJS.ProcessEnv, name: string): string | undefined {
  const file = source[`${name}_FILE`];
  if (!file) return source[name];
  if (source[name]) throw new Error(`and ${name}_FILE are both set; set one`);
  try {
    return readFileSync(file, "utf8").trim();
  } catch (err) {
    throw new Error(`_FILE ${file} cannot be read: ${(err as Error).message}`);
  }
}

/**
 * Reads every variable of `spec` from `source` (each may come from a file, `<NAME>_FILE`); throws
 * one ConfigError naming all bad ones.
 */
export function loadConfig<S extends Record<string, EnvVar<unknown>>>(spec: S, source: NodeJS.ProcessEnv = process.env): ConfigOf<S> {
  const problems: string[] = [];
  const out: Record<string, unknown> = {};
  const production = isProduction(source);
  for (const [name, variable] of Object.entries(spec)) {
    try {
      const value = variable.parse(rawValue(source, name));
      const refused = production ? variable.refusedInProduction?.(value) : undefined;
      if (refused) problems.push(`${name} ${refused} (NODE_ENV=production)`);
      out[name] = value;
    } catch (err) {
      problems.push(`${name} ${(err as Error).message}`);
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return out as ConfigOf<S>;
}
