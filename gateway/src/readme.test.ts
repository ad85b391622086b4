import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type GatewayStack, startGatewayStack } from "./testing/gateway-stack.js";

const readmePath = path.resolve(import.meta.dirname, "../README.md");
const documentedUrl = "http://127.0.0.1:8080";

/**
 * The README's shell examples, in order. Blocks fenced as `sh checkout` need the checkout
 * services (orders, payments, shipping, notifications), which this stack does not run.
 */
async function readmeScript(): Promise<string> {
  const readme = await readFile(readmePath, "utf8");
  const blocks = [...readme.matchAll(/^```sh\n([\s\S]*?)^```$/gm)].map((match) => match[1]!);
  return blocks.join("\n");
}

let stack: GatewayStack;

beforeAll(async () => {
  stack = await startGatewayStack();
});

afterAll(async () => {
  await stack?.stop();
});

describe("the README's curl examples", () => {
  it("work when pasted, against a real gateway and services", async () => {
    const script = (await readmeScript()).replaceAll(documentedUrl, stack.baseUrl);
    const { stdout } = await promisify(execFile)("bash", ["-euc", script], { timeout: 60_000 });
    for (const expected of [
      '"sku":"MUG-001"',
      '"available":500',
      '"role":"ROLE_CUSTOMER"',
      "idempotent-replayed: true",
      '"amountMinor":"1100"',
      '"available":25',
      '"message":"pageSize: expected an integer (int32), got \\"ten\\""',
      '"message":"qty: unknown field"',
      '"code":"permission_denied"',
      '"status":"ok"',
      "gateway_http_requests_total{",
      '"openapi":"3.1.0"',
    ]) {
      expect(stdout).toContain(expected);
    }
    expect(stdout).not.toContain('"code":"unauthenticated"');
    expect(stdout).not.toContain('"code":"internal"');
  });
});
