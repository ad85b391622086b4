import { createHash, randomBytes } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import type { ShopContext } from "@shop/contracts";
import pg from "pg";
import { dropDatabase, ensureDatabase, migrateDatabase } from "../db.js";
import { defaultPostgresUrl } from "../topology.js";

const postgresUrl = () => process.env.POSTGRES_URL ?? defaultPostgresUrl;

function urlFor(name: string): string {
  const url = new URL(postgresUrl());
  url.pathname = `/${name}`;
  return url.toString();
}

async function migrationsDigest(serviceDir: string): Promise<string> {
  const dir = path.join(serviceDir, "prisma", "migrations");
  const hash = createHash("sha256");
  for (const name of (await readdir(dir)).sort()) {
    if (name.endsWith(".toml")) continue;
    hash.update(name).update(await readFile(path.join(dir, name, "migration.sql")));
  }
  return hash.digest("hex").slice(0, 12);
}

/**
 * A migrated template database per service and migration set, made once (under an advisory
 * lock, so parallel test files agree) and reused: copying a template is far faster than
 * migrating.
 */
async function ensureTemplate(context: ShopContext, serviceDir: string): Promise<string> {
  const template = `shop_tmpl_${context}_${await migrationsDigest(serviceDir)}`;
  const admin = new pg.Client({ connectionString: urlFor("postgres") });
  await admin.connect();
  try {
    await admin.query("SELECT pg_advisory_lock(hashtext($1))", [template]);
    const ready = await admin.query("SELECT 1 FROM pg_database WHERE datname = $1 AND datistemplate", [template]);
    if (!ready.rowCount) {
      await dropDatabase(urlFor(template));
      await ensureDatabase(urlFor(template));
      await migrateDatabase(serviceDir, urlFor(template));
      await admin.query(`ALTER DATABASE "${template}" WITH IS_TEMPLATE true`);
    }
  } finally {
    await admin.end();
  }
  return template;
}

export interface TestDatabase {
  url: string;
  drop(): Promise<void>;
}

/** A fresh, migrated database of its own for one test file. */
export async function createTestDatabase(context: ShopContext, serviceDir: string): Promise<TestDatabase> {
  const template = await ensureTemplate(context, serviceDir);
  const name = `shop_test_${context}_${randomBytes(6).toString("hex")}`;
  await ensureDatabase(urlFor(name), template);
  return { url: urlFor(name), drop: () => dropDatabase(urlFor(name)) };
}
