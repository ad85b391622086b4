// Writes the migration that takes a service's database from its committed schema to the
// schema.prisma in the working tree:
//   npm run db:migration -- <service> <name>        e.g. npm run db:migration -- orders add_order_notes
// Prisma's `migrate dev` cannot run here (it replays migrations on the main database as its
// shadow), so the SQL comes from `prisma migrate diff` between the two schema files, not from a
// database's state. Review the file before committing it; services apply it at start.
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { contexts, defaultPostgresUrl } from "@shop/runtime";

const run = promisify(execFile);
const prismaCliPath = createRequire(import.meta.url).resolve("prisma/build/index.js");
const repoRoot = path.resolve(import.meta.dirname, "..");
/** What `prisma migrate diff --script` prints when the two schemas define the same tables. */
const emptyMigration = "-- This is an empty migration.";

/** Runs the Prisma CLI (a development tool) in a service folder; it is told its engines are in the CLI, since nothing here runs them. */
async function prismaCli(serviceDir: string, args: string[], databaseUrl: string): Promise<string> {
  const env = {
    ...process.env,
    DATABASE_URL: databaseUrl,
    PRISMA_QUERY_ENGINE_LIBRARY: prismaCliPath,
    PRISMA_SCHEMA_ENGINE_BINARY: prismaCliPath,
    PRISMA_HIDE_UPDATE_MESSAGE: "1",
    CHECKPOINT_DISABLE: "1",
  };
  const { stdout } = await run(process.execPath, [prismaCliPath, ...args], { cwd: serviceDir, env });
  return stdout;
}

function usage(message: string): never {
  process.stderr.write(`${message}\nusage: npm run db:migration -- <${contexts.join("|")}> <name in snake_case>\n`);
  process.exit(2);
}

const [service, name] = process.argv.slice(2);
if (!service || !(contexts as readonly string[]).includes(service)) usage(`unknown service "${service ?? ""}"`);
if (!name || !/^[a-z][a-z0-9_]*$/.test(name)) usage(`the migration name must be snake_case, got "${name ?? ""}"`);

const serviceDir = path.join(repoRoot, "services", service);
const schema = path.join(serviceDir, "prisma", "schema.prisma");
const migrationsDir = path.join(serviceDir, "prisma", "migrations");

const scratch = await mkdtemp(path.join(tmpdir(), "shop-migration-"));
try {
  const committedSchema = path.join(scratch, "committed.prisma");
  const relative = path.relative(repoRoot, schema);
  const { stdout: committed } = await run("git", ["show", `HEAD:${relative}`], { cwd: repoRoot }).catch(() => ({ stdout: "" }));
  const from = committed ? ["--from-schema-datamodel", committedSchema] : ["--from-empty"];
  if (committed) await writeFile(committedSchema, committed);
  // The CLI's WebAssembly engine wants a connection even for a diff; it reads nothing from it.
  const server = new URL(process.env.POSTGRES_URL ?? defaultPostgresUrl);
  server.pathname = "/postgres";
  const sql = await prismaCli(serviceDir, ["migrate", "diff", ...from, "--to-schema-datamodel", schema, "--script"], server.toString());
  if (sql.trim() === emptyMigration) {
    console.log(`${service}: schema.prisma does not differ from the committed one; no migration written`);
  } else {
    const stamp = new Date().toISOString().replace(/\D/g, "").slice(0, 14);
    const existing = existsSync(migrationsDir) ? await readdir(migrationsDir) : [];
    if (existing.some((entry) => entry.endsWith(`_${name}`))) usage(`${service} already has a migration named ${name}`);
    const dir = path.join(migrationsDir, `${stamp}_${name}`);
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, "migration.sql"), sql);
    console.log(`wrote ${path.relative(repoRoot, path.join(dir, "migration.sql"))}: review it, then commit it with the schema`);
  }
} finally {
  await rm(scratch, { recursive: true, force: true });
}
