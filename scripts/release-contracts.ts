// `npm run contracts:release`: records the current contracts as the baseline that
// `npm run lint:contracts` protects. Run it when a version of the API is published.
import { readFile } from "node:fs/promises";
import path from "node:path";
import { baselineImage, buf } from "./contract-checks/buf.js";
import { restSurface } from "./contract-checks/rest-surface.js";

const root = path.resolve(import.meta.dirname, "..");
const built = await buf(root, ["build", "--exclude-source-info", "-o", baselineImage]);
if (built.code !== 0) {
  console.error(built.output);
  process.exit(1);
}
const routes = restSurface(await readFile(path.join(root, baselineImage)));
console.log(`baseline written to ${baselineImage} (${routes.length} REST routes):`);
for (const route of routes) console.log(`  ${route.verb.padEnd(6)} ${route.path}  body=${JSON.stringify(route.body)}  -> ${route.rpc}`);
console.log("commit it, e.g.: git add contracts/baseline && git commit -m 'Release contracts' && git tag contracts-vN");
