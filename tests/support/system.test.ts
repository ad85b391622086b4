import { existsSync } from "node:fs";
import { CatalogService } from "@shop/contracts/shop/catalog/v1/catalog_pb.js";
import { createServiceClient } from "@shop/runtime";
import { adminHeaders } from "@shop/runtime/testing";
import { connect, StorageType } from "nats";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { withJetStream } from "./jetstream.js";
import { isServing } from "./service-process.js";
import { type RunningSystem, startSystem } from "./system.js";

describe("a system of real processes", () => {
  let system: RunningSystem;

  beforeAll(async () => {
    system = await startSystem({ contexts: ["catalog"], readyTimeoutMs: 120_000 });
  }, 180_000);

  afterAll(async () => {
    await system?.stop();
    expect(existsSync(system.dir)).toBe(false);
  }, 60_000);

  it("restarts a killed service on the same port and database", async () => {
    const catalog = system.service("catalog");
    const client = () => createServiceClient(CatalogService, { address: catalog.address });
    const before = client();
    const { product } = await before.createProduct(
      { sku: "SYS-1", name: "Kept across restarts", description: "", price: { currencyCode: "USD", amountMinor: 100n } },
      { headers: adminHeaders() },
    );
    before.close();
    const firstPid = catalog.pid;

    await catalog.kill();
    expect(catalog.isRunning).toBe(false);
    expect(await isServing(catalog.address)).toBe(false);

    await catalog.start();
    expect(catalog.pid).not.toBe(firstPid);
    const after = client();
    try {
      expect((await after.getProduct({ productId: product!.id })).product?.name).toBe("Kept across restarts");
    } finally {
      after.close();
    }
  }, 180_000);

  it("keeps JetStream streams and messages across a NATS kill -9 and restart", async () => {
    await withJetStream(system.nats.url, async (jsm) => {
      await jsm.streams.add({ name: "SUPPORT_CHECK", subjects: ["support.check"], storage: StorageType.File });
    });
    const nc = await connect({ servers: system.nats.url });
    await nc.jetstream().publish("support.check", new TextEncoder().encode("kept"));
    await nc.close();

    await system.nats.restart();

    const messages = await withJetStream(system.nats.url, async (jsm) => (await jsm.streams.info("SUPPORT_CHECK")).state.messages);
    expect(messages).toBe(1);
  }, 60_000);
});

describe("starting a system", () => {
  it("fails at once with the service's exit and log when a service cannot start", async () => {
    const started = startSystem({ contexts: ["catalog"], env: { SEED_DEMO_DATA: "sometimes" }, readyTimeoutMs: 120_000 });
    await expect(started).rejects.toThrow(/catalog exited with code 2 before it was SERVING[\s\S]*SEED_DEMO_DATA/);
  }, 60_000);
});
