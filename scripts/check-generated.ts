/**
 * Fails when packages/contracts/src/gen differs from what `buf generate` makes of proto/ now.
 *
 *   node --import tsx scripts/check-generated.ts           # compare, list stale and missing files
 *   node --import tsx scripts/check-generated.ts --write   # after `buf generate` (npm run generate): nothing to compare
 */
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const run = promisify(execFile);

const repoRoot = path.resolve(import.meta.dirname, "..");
/** The `out` of buf.gen.yaml, relative to the repository. */
const generatedDir = "packages/contracts/src/gen";
const binDir = path.join(repoRoot, "node_modules", ".bin");

function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => path.relative(dir, path.join(entry.parentPath, entry.name)))
    .sort();
}

/** Problems found, one line each (empty when the committed code is what buf generates). */
export async function generatedCodeProblems(): Promise<string[]> {
  const scratch = mkdtempSync(path.join(os.tmpdir(), "shop-generated-"));
  try {
    // buf looks up the local protoc-gen-es plugin on PATH.
    await run(path.join(binDir, "buf"), ["generate", "--output", scratch], {
      cwd: repoRoot,
      env: { ...process.env, PATH: `${binDir}${path.delimiter}${process.env.PATH ?? ""}` },
    });
    const fresh = path.join(scratch, generatedDir);
    const committed = path.join(repoRoot, generatedDir);
    const freshFiles = filesUnder(fresh);
    const committedFiles = new Set(filesUnder(committed));
    const problems: string[] = [];
    for (const file of freshFiles) {
      if (!committedFiles.has(file)) problems.push(`missing: ${generatedDir}/${file}`);
      else if (!readFileSync(path.join(fresh, file)).equals(readFileSync(path.join(committed, file)))) {
        problems.push(`stale: ${generatedDir}/${file}`);
      }
      committedFiles.delete(file);
    }
    for (const file of committedFiles) problems.push(`no longer generated: ${generatedDir}/${file}`);
    return problems;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

async function main(args: string[]): Promise<number> {
  if (args.includes("--write")) {
    console.log(`${generatedDir} regenerated from proto/`);
    return 0;
  }
  const problems = await generatedCodeProblems();
  if (problems.length === 0) {
    console.log(`${generatedDir} is up to date with proto/`);
    return 0;
  }
  console.error(`generated code is stale: run npm run generate\n${problems.map((line) => `  ${line}`).join("\n")}`);
  return 1;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error("check-generated:", (err as { stderr?: string }).stderr?.trim() || err);
      process.exit(1);
    },
  );
}
