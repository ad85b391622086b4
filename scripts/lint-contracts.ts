// `npm run lint:contracts`: buf lint, buf breaking (FILE + WIRE_JSON) against the released
// baseline image, and the REST-surface check that buf breaking does not do.
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { baselineImage, buf } from "./contract-checks/buf.js";
import { compareSurfaces, restSurface } from "./contract-checks/rest-surface.js";

const breakingConfig = JSON.stringify({ version: "v2", breaking: { use: ["FILE", "WIRE_JSON"] } });

export interface ContractReport {
  ok: boolean;
  lint: string[];
  breaking: string[];
  rest: string[];
}

/** Checks the contracts in `root` against its committed baseline. */
export async function lintContracts(root: string): Promise<ContractReport> {
  const lint = await buf(root, ["lint"]);
  const scratch = await mkdtemp(path.join(tmpdir(), "shop-contracts-"));
  try {
    const current = path.join(scratch, "current.binpb");
    const build = await buf(root, ["build", "-o", current]);
    if (build.code !== 0) return { ok: false, lint: [build.output.trim()], breaking: [], rest: [] };
    const baseline = path.join(root, baselineImage);
    const breaking = await buf(root, ["breaking", current, "--against", baseline, "--config", breakingConfig]);
    const rest = compareSurfaces(restSurface(await readFile(baseline)), restSurface(await readFile(current)));
    const lines = (text: string) =>
      text
        .split("\n")
        .map((l) => l.trim())
        .filter(Boolean);
    const report = {
      lint: lint.code === 0 ? [] : lines(lint.output),
      breaking: breaking.code === 0 ? [] : lines(breaking.output).map((l) => (l.startsWith("shop/") ? `proto/${l}` : l)),
      rest,
    };
    return { ok: report.lint.length + report.breaking.length + report.rest.length === 0, ...report };
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const rootArg = process.argv.indexOf("--root");
  const root = path.resolve(rootArg > 0 ? process.argv[rootArg + 1]! : path.join(import.meta.dirname, ".."));
  const report = await lintContracts(root);
  const section = (title: string, items: string[]) => {
    console.log(items.length === 0 ? `ok    ${title}` : `FAIL  ${title}\n${items.map((i) => `      ${i}`).join("\n")}`);
  };
  section("buf lint (STANDARD)", report.lint);
  section(`buf breaking (FILE, WIRE_JSON) against ${baselineImage}`, report.breaking);
  section("REST surface (google.api.http routes and their fields) against the baseline", report.rest);
  if (!report.ok) {
    console.log("\nThe contracts break what the released baseline promised. Make the change additive (new field or route,");
    console.log("reserve removed numbers and names), or version the package (shop.<context>.v2) and release a new baseline.");
    process.exit(1);
  }
}
