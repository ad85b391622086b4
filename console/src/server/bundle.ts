import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { consoleDir } from "./config.js";

/** Everything the page is built from. */
function sources(): string[] {
  const web = path.join(consoleDir, "src", "web");
  const files = readdirSync(web, { recursive: true, encoding: "utf8" })
    .map((file) => path.join(web, file))
    .filter((file) => /\.(tsx?|css)$/.test(file));
  return [
    ...files.sort(),
    path.join(consoleDir, "index.html"),
    path.join(consoleDir, "vite.config.ts"),
    path.join(consoleDir, "package.json"),
  ];
}

function sourceHash(): string {
  const hash = createHash("sha256");
  for (const file of sources()) hash.update(file).update(readFileSync(file));
  return hash.digest("hex");
}

/**
 * Builds the page into `dist/` with Vite unless it was built from the same sources already, so a
 * start after a change to the page rebuilds it (about a second) and any other start costs a hash.
 * Returns what it did, for the start-up line.
 */
export async function ensureBundle(outDir = path.join(consoleDir, "dist")): Promise<string> {
  const stamp = path.join(outDir, ".source-hash");
  const hash = sourceHash();
  if (existsSync(stamp) && readFileSync(stamp, "utf8") === hash) return "page up to date";
  const startedAt = performance.now();
  const { build } = await import("vite");
  await build({ configFile: path.join(consoleDir, "vite.config.ts"), build: { outDir } });
  writeFileSync(stamp, hash);
  return `page built in ${Math.round(performance.now() - startedAt)} ms`;
}
