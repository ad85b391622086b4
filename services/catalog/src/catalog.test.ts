import path from "node:path";
import { Code } from "@connectrpc/connect";
import { CatalogService } from "@shop/contracts/shop/catalog/v1/catalog_pb.js";
import { createServiceClient, demoProducts, type RunningService, startService } from "@shop/runtime";
import {
  adminHeaders,
  callerHeaders,
  createTestDatabase,
  credentialsEnv,
  failureOf,
  serviceCredential,
  startTestService,
  type TestDatabase,
  type TestService,
} from "@shop/runtime/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadCatalogConfig } from "./config.js";
import { buildCatalog } from "./server.js";

const servicesDir = path.resolve(import.meta.dirname, "../..");

let db: TestDatabase;
let service: RunningService;
let client: ReturnType<typeof createServiceClient<typeof CatalogService>>;
const admin = { headers: adminHeaders() };

const usd = (amountMinor: bigint) => ({ currencyCode: "USD", amountMinor });

beforeAll(async () => {
  db = await createTestDatabase("catalog", path.resolve(import.meta.dirname, ".."));
  const config = loadCatalogConfig({
    ...credentialsEnv("catalog"),
    CATALOG_HOST: "127.0.0.1",
    CATALOG_PORT: "0",
    CATALOG_METRICS_PORT: "0",
    CATALOG_DATABASE_URL: db.url,
    SEED_DEMO_DATA: "true",
    LOG_LEVEL: "silent",
  });
  service = await startService({ context: "catalog", serviceDir: path.resolve(import.meta.dirname, ".."), config, start: buildCatalog });
  client = createServiceClient(CatalogService, { address: service.grpc.address, credential: serviceCredential("orders") });
});

afterAll(async () => {
  client?.close();
  await service?.stop();
  await db?.drop();
});

describe("catalog over gRPC", () => {
  it("seeds the demo catalog on first start", async () => {
    const { products } = await client.listProducts({ pageSize: 100 });
    expect(products.map((p) => p.sku)).toEqual(expect.arrayContaining(["MUG-001", "LAMP-006"]));
  });

  it("seeds the demo catalog once when replicas start together on an empty database", async () => {
    const empty = await createTestDatabase("catalog", path.resolve(import.meta.dirname, ".."));
    const replicas: TestService[] = [];
    try {
      const start = () =>
        startTestService(servicesDir, "catalog", loadCatalogConfig, buildCatalog, { db: empty, env: { SEED_DEMO_DATA: "true" } });
      replicas.push(...(await Promise.all([start(), start(), start()])));
      const replicaClient = createServiceClient(CatalogService, { address: replicas[0]!.address, credential: serviceCredential("orders") });
      try {
        const { products } = await replicaClient.listProducts({ pageSize: 100 });
        expect(products.map((p) => p.sku)).toEqual(demoProducts.map((p) => p.sku));
      } finally {
        replicaClient.close();
      }
    } finally {
      await Promise.all(replicas.map((replica) => replica.stop()));
      await empty.drop();
    }
  });

  it("creates, gets and reprices a product (admin)", async () => {
    const { product } = await client.createProduct({ sku: "CUP-900", name: "Cup", description: "A cup", price: usd(500n) }, admin);
    expect(product?.id).toMatch(/^[0-9a-f-]{36}$/);
    const got = await client.getProduct({ productId: product!.id });
    expect(got.product?.price?.amountMinor).toBe(500n);
    const repriced = await client.updateProductPrice({ productId: product!.id, price: usd(650n) }, admin);
    expect(repriced.product?.price?.amountMinor).toBe(650n);
    expect((await client.getProduct({ productId: product!.id })).product?.price?.amountMinor).toBe(650n);
  });

  it("pages through every product exactly once with cursor tokens", async () => {
    for (let i = 0; i < 7; i++) {
      await client.createProduct({ sku: `PAGE-${i}`, name: `Page ${i}`, description: "", price: usd(100n) }, admin);
    }
    const all = (await client.listProducts({ pageSize: 100 })).products.map((p) => p.id);
    const seen: string[] = [];
    let pageToken = "";
    do {
      const page = await client.listProducts({ pageSize: 3, pageToken });
      expect(page.products.length).toBeLessThanOrEqual(3);
      seen.push(...page.products.map((p) => p.id));
      pageToken = page.nextPageToken;
    } while (pageToken);
    expect(seen).toEqual(all);
  });

  it("returns products of a batch in request order", async () => {
    const { products } = await client.listProducts({ pageSize: 2 });
    const ids = products.map((p) => p.id).reverse();
    const batch = await client.batchGetProducts({ productIds: ids });
    expect(batch.products.map((p) => p.id)).toEqual(ids);
  });
});

describe("catalog bad paths", () => {
  it("rejects a duplicate sku with ALREADY_EXISTS", async () => {
    await client.createProduct({ sku: "DUP-1", name: "One", description: "", price: usd(1n) }, admin);
    const err = await failureOf(client.createProduct({ sku: "DUP-1", name: "Two", description: "", price: usd(2n) }, admin));
    expect(err.code).toBe(Code.AlreadyExists);
    expect(err.message).toContain("DUP-1");
  });

  it("requires the admin role to create or reprice", async () => {
    const anonymousClient = createServiceClient(CatalogService, { address: service.grpc.address });
    const anonymous = await failureOf(anonymousClient.createProduct({ sku: "NOPE-1", name: "x", description: "", price: usd(1n) }));
    anonymousClient.close();
    expect(anonymous.code).toBe(Code.Unauthenticated);
    const asService = await failureOf(client.createProduct({ sku: "NOPE-3", name: "x", description: "", price: usd(1n) }));
    expect(asService.code).toBe(Code.PermissionDenied);
    const customer = await failureOf(
      client.createProduct({ sku: "NOPE-2", name: "x", description: "", price: usd(1n) }, { headers: callerHeaders() }),
    );
    expect(customer.code).toBe(Code.PermissionDenied);
  });

  it.each([
    [{ sku: "bad sku", name: "x", description: "", price: usd(1n) }, "sku"],
    [{ sku: "OK-1", name: "", description: "", price: usd(1n) }, "name"],
    [{ sku: "OK-2", name: "x", description: "" }, "price"],
    [{ sku: "OK-3", name: "x", description: "", price: { currencyCode: "usd", amountMinor: 1n } }, "price.currencyCode"],
    [{ sku: "OK-4", name: "x", description: "", price: usd(-5n) }, "price.amountMinor"],
  ])("rejects %o naming %s", async (input, field) => {
    const err = await failureOf(client.createProduct(input, admin));
    expect(err.code).toBe(Code.InvalidArgument);
    expect(err.message).toContain(`${field}:`);
  });

  it("answers NOT_FOUND for unknown ids and INVALID_ARGUMENT for malformed ones", async () => {
    expect((await failureOf(client.getProduct({ productId: "00000000-0000-4000-8000-000000000000" }))).code).toBe(Code.NotFound);
    const malformed = await failureOf(client.getProduct({ productId: "nope" }));
    expect(malformed.code).toBe(Code.InvalidArgument);
    expect(malformed.message).toContain("productId");
    const batch = await failureOf(client.batchGetProducts({ productIds: ["00000000-0000-4000-8000-000000000000"] }));
    expect(batch.code).toBe(Code.NotFound);
  });

  it("rejects a forged page token and an oversized page", async () => {
    const token = await failureOf(client.listProducts({ pageToken: "!!garbage!!" }));
    expect(token.code).toBe(Code.InvalidArgument);
    expect(token.message).toContain("pageToken");
    const size = await failureOf(client.listProducts({ pageSize: 1000 }));
    expect(size.code).toBe(Code.InvalidArgument);
    expect(size.message).toContain("pageSize");
  });
});
