import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import type { ShopContext } from "@shop/contracts";
import { topology } from "@shop/runtime";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { developmentKeys, verificationEnv } from "../../scripts/dev-credentials.js";
import { repoRoot } from "../support/service-process.js";
import { type StartedService, servicesUnderTest } from "./services.js";

/** The README's `sh grpc` blocks: direct calls to catalog, inventory and payments. */
const called: ShopContext[] = ["catalog", "inventory", "payments"];

async function readmeGrpcScript(): Promise<string> {
  const readme = await readFile(path.join(repoRoot, "README.md"), "utf8");
  return [...readme.matchAll(/^```sh grpc\n([\s\S]*?)^```$/gm)].map((match) => match[1]!).join("\n");
}

describe("the README's buf curl examples", () => {
  const started = new Map<ShopContext, StartedService>();

  beforeAll(async () => {
    // The services trust the development keys `npm run token` signs with, as under `npm start`.
    const trusted = verificationEnv(developmentKeys());
    await Promise.all(
      called.map(async (context) => {
        const entry = servicesUnderTest.find((service) => service.context === context)!;
        started.set(context, await entry.start(trusted));
      }),
    );
  });

  afterAll(async () => {
    await Promise.all([...started.values()].map((service) => service.stop()));
  });

  it("work when pasted: open health and reflection, public reads, an admin's and a service's token, and the refusals", async () => {
    let script = await readmeGrpcScript();
    for (const [context, service] of started)
      script = script.replaceAll(`127.0.0.1:${topology[context].port}`, `127.0.0.1:${service.port}`);
    // Each example runs whatever the one before answered, as when pasted line by line.
    const result = await promisify(execFile)("bash", ["-uc", script], { cwd: repoRoot, timeout: 120_000 }).catch(
      (err: { stdout: string; stderr: string }) => err,
    );
    const output = `${result.stdout}\n${result.stderr}`;
    for (const expected of [
      "shop.catalog.v1.CatalogService/CreateProduct",
      '"status": "SERVING"',
      '"sku": "MUG-001"',
      '"available": 500',
      '"sku": "CAP-100"',
      '"code": "not_found"',
      '"message": "payment for order 00000000-0000-4000-8000-0000000000aa not found"',
      '"code": "unauthenticated"',
      '"message": "RefundPayment requires a credential: send authorization: Bearer \\u003ctoken\\u003e"',
      '"code": "permission_denied"',
      '"message": "service gateway may not call shop.payments.v1.PaymentService/RefundPayment"',
    ]) {
      expect(output).toContain(expected);
    }
  });
});
