import { execFile } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";
import type { ShopContext } from "@shop/contracts";
import { contexts, generateDevelopmentKey, publicKeySet } from "@shop/runtime";
import { credentialsEnv } from "@shop/runtime/testing";
import { describe, expect, it } from "vitest";
import { loadCatalogConfig } from "../../services/catalog/src/config.js";
import { loadUsersConfig } from "../../services/users/src/config.js";
import { repoRoot } from "../support/service-process.js";

const run = promisify(execFile);

/** Starts an entry point as production would, and says how it ended. */
async function startInProduction(entry: string, env: NodeJS.ProcessEnv): Promise<{ code: number | null; stderr: string }> {
  const child = run(process.execPath, ["--import", "tsx", entry], {
    cwd: repoRoot,
    env: { PATH: process.env.PATH, NODE_ENV: "production", ...env },
    timeout: 30_000,
  });
  try {
    await child;
    return { code: 0, stderr: "" };
  } catch (err) {
    const failed = err as { code: number | null; stderr: string };
    return { code: failed.code, stderr: failed.stderr };
  }
}

/** What each process refuses when started in production with what `npm start` and the tests give it. */
const refusedByEveryone = ["AUTH_USER_TOKEN_KEYS", "AUTH_SERVICE_TOKEN_KEYS", "NATS_URL"];
const refusedBy: Record<ShopContext, string[]> = {
  users: ["USERS_DATABASE_URL", "USERS_TOKEN_SIGNING_KEY", "ADMIN_PASSWORD"],
  catalog: ["CATALOG_DATABASE_URL", "SEED_DEMO_DATA"],
  inventory: ["INVENTORY_DATABASE_URL", "SEED_DEMO_DATA"],
  orders: ["ORDERS_DATABASE_URL"],
  payments: ["PAYMENTS_DATABASE_URL"],
  shipping: ["SHIPPING_DATABASE_URL"],
  notifications: ["NOTIFICATIONS_DATABASE_URL"],
};

describe("production refuses development secrets and open doors", () => {
  it.each(contexts)("%s exits at start naming each development secret it was given", async (context) => {
    const { code, stderr } = await startInProduction(`services/${context}/src/main.ts`, credentialsEnv(context));
    expect(code).toBe(2);
    for (const variable of [...refusedByEveryone, ...refusedBy[context]]) {
      expect(stderr).toMatch(new RegExp(`^  - ${variable} .*\\(NODE_ENV=production\\)$`, "m"));
    }
  });

  it("the gateway exits at start naming the development keys and the NATS URL without credentials", async () => {
    const { code, stderr } = await startInProduction(path.join("gateway", "src", "main.ts"), credentialsEnv("gateway"));
    expect(code).toBe(2);
    for (const variable of refusedByEveryone) expect(stderr).toMatch(new RegExp(`^  - ${variable} .*\\(NODE_ENV=production\\)$`, "m"));
  });

  it("users names the documented admin password and a short one, and the trust-style database URL", () => {
    const production = productionEnv();
    expect(() => loadUsersConfig({ ...production, ADMIN_PASSWORD: "admin-password" })).toThrow(
      /ADMIN_PASSWORD is the documented development password/,
    );
    expect(() => loadUsersConfig({ ...production, ADMIN_PASSWORD: "short" })).toThrow(/ADMIN_PASSWORD is shorter than 12 characters/);
    expect(() => loadUsersConfig({ ...production, USERS_DATABASE_URL: "postgresql://users@db:5432/shop_users" })).toThrow(
      /USERS_DATABASE_URL has no password/,
    );
  });

  it("a production configuration with its own keys, passwords and NATS user loads", () => {
    const config = loadUsersConfig(productionEnv());
    expect(config.ADMIN_PASSWORD).toBe("a-long-admin-passphrase");
    expect(loadCatalogConfig({ ...productionEnv(), CATALOG_DATABASE_URL: "postgresql://catalog:pw@db/shop_catalog" }).SEED_DEMO_DATA).toBe(
      false,
    );
  });

  it("outside production the same development values are accepted", () => {
    expect(() => loadUsersConfig({ ...credentialsEnv("users") })).not.toThrow();
  });
});

/** Keys of a production issuer (kids without the development prefix) and credentials everywhere. */
function productionEnv(): NodeJS.ProcessEnv {
  const own = (kid: string) => {
    const key = generateDevelopmentKey();
    return { kid, jwk: { ...key.jwk, kid } };
  };
  const users = own("users-2026-12");
  const platform = own("cluster-2026-12");
  return {
    NODE_ENV: "production",
    AUTH_USER_TOKEN_KEYS: JSON.stringify(publicKeySet(users)),
    AUTH_SERVICE_TOKEN_KEYS: JSON.stringify(publicKeySet(platform)),
    USERS_TOKEN_SIGNING_KEY: JSON.stringify(users.jwk),
    USERS_DATABASE_URL: "postgresql://users:secret@db:5432/shop_users",
    NATS_URL: "nats://users:secret@nats:4222",
    ADMIN_PASSWORD: "a-long-admin-passphrase",
    SEED_DEMO_DATA: "false",
  };
}
