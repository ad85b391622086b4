/**
 * `npm run --silent token -- service:<name>` or `-- user:<uuid> [--role admin]`: prints a bearer
 * token signed with the development keys that `npm start` uses, for direct calls:
 *
 *   npx buf curl --http2-prior-knowledge --protocol grpc \
 *     -H "authorization: Bearer $(npm run --silent token -- service:orders)" ...
 *
 * `--ttl <seconds>` sets how long it is valid (default 3600).
 */
import { parseArgs } from "node:util";
import { isUuid } from "@shop/runtime";
import { developmentKeys, developmentServiceToken, developmentUserToken } from "./dev-credentials.js";

const usage = "usage: npm run --silent token -- service:<name> | user:<uuid> [--role customer|admin] [--ttl <seconds>]";

function fail(message: string): never {
  process.stderr.write(`${message}\n${usage}\n`);
  process.exit(2);
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { role: { type: "string", default: "customer" }, ttl: { type: "string", default: "3600" } },
});
const [subject] = positionals;
const ttlSeconds = Number(values.ttl);
if (!Number.isInteger(ttlSeconds) || ttlSeconds < 1 || ttlSeconds > 30 * 86_400)
  fail(`--ttl must be whole seconds up to 30 days, got "${values.ttl}"`);
const keys = developmentKeys();
const [kind, id = ""] = (subject ?? "").split(/:(.*)/s);
if (kind === "service" && /^[a-z][a-z0-9-]*$/.test(id)) {
  process.stdout.write(`${developmentServiceToken(keys, id, ttlSeconds)}\n`);
} else if (kind === "user" && isUuid(id)) {
  if (values.role !== "customer" && values.role !== "admin") fail(`--role must be customer or admin, got "${values.role}"`);
  process.stdout.write(`${developmentUserToken(keys, id.toLowerCase(), values.role, ttlSeconds)}\n`);
} else {
  fail(subject === undefined ? "say whose token to print" : `"${subject}" is neither service:<name> nor user:<uuid>`);
}
