// Generates each service's Prisma client (git-ignored) after `npm ci`/`npm install`.
import { existsSync, readdirSync } from "node:fs";
import path from "node:path";
import { prismaCli } from "@shop/runtime";

const servicesDir = path.resolve(import.meta.dirname, "../services");
const withSchema = readdirSync(servicesDir).filter((name) => existsSync(path.join(servicesDir, name, "prisma/schema.prisma")));
await Promise.all(
  withSchema.map(async (name) => {
    await prismaCli(path.join(servicesDir, name), ["generate"], "postgresql://unused@127.0.0.1/unused");
    console.log(`prisma client generated for ${name}`);
  }),
);
