import { Writable } from "node:stream";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { Validator } from "@seriousme/openapi-schema-validator";
import { BatchGetProductsRequestSchema, CatalogService } from "@shop/contracts/shop/catalog/v1/catalog_pb.js";
import { InventoryService } from "@shop/contracts/shop/inventory/v1/inventory_pb.js";
import { demoProducts, generateDevelopmentKey } from "@shop/runtime";
import { serviceToken, signedUserToken, waitFor } from "@shop/runtime/testing";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Customer, type GatewayStack, startGatewayStack } from "./testing/gateway-stack.js";

let stack: GatewayStack;
let alice: Customer;
let bob: Customer;
const mug = demoProducts[0];
const missingId = "00000000-0000-4000-8000-000000000000";

beforeAll(async () => {
  stack = await startGatewayStack();
  [alice, bob] = await Promise.all([stack.customer(), stack.customer()]);
});

afterAll(async () => {
  await stack?.stop();
});

describe("users through the gateway", () => {
  it("registers a user and answers {user} in the canonical JSON mapping", async () => {
    const email = `ada-${Date.now()}@example.com`;
    const reply = await stack.request("POST", "/v1/users", { body: { email, name: "Ada", password: "s3cret-enough" } });
    expect(reply.status).toBe(200);
    expect(reply.body.user).toMatchObject({ email, name: "Ada", role: "ROLE_CUSTOMER" });
    expect(reply.body.user.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(Date.parse(reply.body.user.createTime)).not.toBeNaN();
    expect(reply.body.user.password).toBeUndefined();
  });

  it("issues a token: {accessToken, expiresIn}", async () => {
    const reply = await stack.request("POST", "/v1/auth/token", { body: { email: alice.email, password: "correct horse battery" } });
    expect(reply.status).toBe(200);
    expect(reply.body.accessToken.split(".")).toHaveLength(3);
    expect(reply.body.expiresIn).toBe(3600);
  });

  it("refuses a wrong password with 401 and a duplicate email with 409", async () => {
    const wrong = await stack.request("POST", "/v1/auth/token", { body: { email: alice.email, password: "not the password" } });
    expect(wrong).toMatchObject({ status: 401, body: { code: "unauthenticated", message: "invalid email or password", details: [] } });
    const duplicate = await stack.request("POST", "/v1/users", { body: { email: alice.email, name: "Again", password: "s3cret-enough" } });
    expect(duplicate).toMatchObject({ status: 409, body: { code: "already_exists" } });
  });

  it("gets a user for that user and for an admin", async () => {
    const own = await stack.request("GET", `/v1/users/${alice.id}`, { token: alice.token });
    expect(own).toMatchObject({ status: 200, body: { user: { id: alice.id, email: alice.email } } });
    const byAdmin = await stack.request("GET", `/v1/users/${alice.id}`, { token: stack.adminToken });
    expect(byAdmin.body.user.id).toBe(alice.id);
  });
});

describe("catalog through the gateway", () => {
  it("lists the demo products, page by page", async () => {
    const first = await stack.request("GET", "/v1/products?pageSize=2");
    expect(first.status).toBe(200);
    expect(first.body.products.map((p: { sku: string }) => p.sku)).toEqual(["MUG-001", "TEE-002"]);
    expect(first.body.nextPageToken).not.toBe("");
    const second = await stack.request("GET", `/v1/products?pageSize=2&pageToken=${encodeURIComponent(first.body.nextPageToken)}`);
    expect(second.body.products.map((p: { sku: string }) => p.sku)).toEqual(["BAG-003", "NOTE-004"]);
  });

  it("gets a product with money as {currencyCode, amountMinor} and int64 as a string", async () => {
    const reply = await stack.request("GET", `/v1/products/${mug.id}`);
    expect(reply).toMatchObject({
      status: 200,
      body: { product: { id: mug.id, sku: mug.sku, name: mug.name, price: { currencyCode: "USD", amountMinor: "1299" } } },
    });
  });

  it("creates a product and changes its price (admin)", async () => {
    const created = await stack.request("POST", "/v1/products", {
      token: stack.adminToken,
      body: { sku: `CUP-${Date.now()}`, name: "Cup", description: "A cup", price: { currencyCode: "USD", amountMinor: "500" } },
    });
    expect(created.status).toBe(200);
    const id = created.body.product.id;
    const repriced = await stack.request("PUT", `/v1/products/${id}/price`, {
      token: stack.adminToken,
      body: { currencyCode: "USD", amountMinor: 650 },
    });
    expect(repriced).toMatchObject({ status: 200, body: { product: { id, price: { amountMinor: "650" } } } });
    expect((await stack.request("GET", `/v1/products/${id}`)).body.product.price.amountMinor).toBe("650");
  });

  it("answers 404 for a product that does not exist", async () => {
    expect(await stack.request("GET", `/v1/products/${missingId}`)).toMatchObject({
      status: 404,
      body: { code: "not_found", message: expect.stringContaining(missingId) },
    });
  });
});

describe("inventory through the gateway", () => {
  it("sets stock (admin) and reads it back as {stock: {productId, available, reserved}}", async () => {
    const set = await stack.request("PUT", `/v1/products/${mug.id}/stock`, { token: stack.adminToken, body: { quantity: 42 } });
    expect(set).toMatchObject({ status: 200, body: { stock: { productId: mug.id, available: 42, reserved: 0 } } });
    const got = await stack.request("GET", `/v1/products/${mug.id}/stock`);
    expect(got.body).toEqual({ stock: { productId: mug.id, available: 42, reserved: 0, committed: 0 } });
  });
});

type Who = "anonymous" | "customer" | "otherCustomer" | "admin";

describe("authorization per route", () => {
  const tokenOf = (who: Who) => ({ anonymous: undefined, customer: alice.token, otherCustomer: bob.token, admin: stack.adminToken })[who];
  const newProduct = () => ({
    sku: `AUTHZ-${Math.random().toString(36).slice(2, 8).toUpperCase()}`,
    name: "x",
    description: "",
    price: { currencyCode: "USD", amountMinor: "1" },
  });

  // Expected status for anonymous, the customer who owns the resource, another customer, an admin.
  // Orders, shipping and notifications are not running here: an admitted call reaches the
  // gateway's upstream and answers 503, a refused one never gets that far.
  const table: [string, () => [string, string, unknown?], Record<Who, number>][] = [
    [
      "register",
      () => ["POST", "/v1/users", { email: `u-${Math.random()}@example.com`, name: "U", password: "long-enough-1" }],
      { anonymous: 200, customer: 200, otherCustomer: 200, admin: 200 },
    ],
    [
      "sign in",
      () => ["POST", "/v1/auth/token", { email: alice.email, password: "correct horse battery" }],
      { anonymous: 200, customer: 200, otherCustomer: 200, admin: 200 },
    ],
    ["get user", () => ["GET", `/v1/users/${alice.id}`], { anonymous: 401, customer: 200, otherCustomer: 403, admin: 200 }],
    ["create product", () => ["POST", "/v1/products", newProduct()], { anonymous: 401, customer: 403, otherCustomer: 403, admin: 200 }],
    ["list products", () => ["GET", "/v1/products"], { anonymous: 200, customer: 200, otherCustomer: 200, admin: 200 }],
    ["get product", () => ["GET", `/v1/products/${mug.id}`], { anonymous: 200, customer: 200, otherCustomer: 200, admin: 200 }],
    [
      "reprice product",
      () => ["PUT", `/v1/products/${mug.id}/price`, { currencyCode: "USD", amountMinor: "1299" }],
      { anonymous: 401, customer: 403, otherCustomer: 403, admin: 200 },
    ],
    [
      "set stock",
      () => ["PUT", `/v1/products/${mug.id}/stock`, { quantity: 10 }],
      { anonymous: 401, customer: 403, otherCustomer: 403, admin: 200 },
    ],
    ["get stock", () => ["GET", `/v1/products/${mug.id}/stock`], { anonymous: 200, customer: 200, otherCustomer: 200, admin: 200 }],
    ["place order", () => ["POST", "/v1/orders", {}], { anonymous: 401, customer: 503, otherCustomer: 503, admin: 503 }],
    ["get order", () => ["GET", `/v1/orders/${missingId}`], { anonymous: 401, customer: 503, otherCustomer: 503, admin: 503 }],
    ["list orders", () => ["GET", "/v1/orders"], { anonymous: 401, customer: 503, otherCustomer: 503, admin: 503 }],
    ["cancel order", () => ["POST", `/v1/orders/${missingId}:cancel`], { anonymous: 401, customer: 503, otherCustomer: 503, admin: 503 }],
    ["get shipment", () => ["GET", `/v1/orders/${missingId}/shipment`], { anonymous: 401, customer: 503, otherCustomer: 503, admin: 503 }],
    ["list notifications", () => ["GET", "/v1/notifications"], { anonymous: 401, customer: 503, otherCustomer: 503, admin: 503 }],
    ["me summary", () => ["GET", "/v1/me/summary"], { anonymous: 401, customer: 503, otherCustomer: 503, admin: 503 }],
  ];

  it.each(
    table.flatMap(([name, build, expected]) => (Object.keys(expected) as Who[]).map((who) => [name, who, build, expected[who]] as const)),
  )("%s as %s", async (_name, who, build, status) => {
    const [method, path, body] = build();
    const reply = await stack.request(method, path, { token: tokenOf(who), body });
    expect(reply.status, JSON.stringify(reply.body)).toBe(status);
    if (status === 401) expect(reply.headers.get("www-authenticate")).toBe("Bearer");
  });

  it("refuses malformed, forged, expired and foreign tokens, and service credentials", async () => {
    const now = Math.floor(Date.now() / 1000);
    const claims = { sub: alice.id, role: "admin", iss: "shop-users", aud: "shop-api", iat: now, exp: now + 60 };
    const kid = JSON.parse(process.env.AUTH_USER_TOKEN_KEYS!).keys[0].kid as string;
    const impostor = generateDevelopmentKey();
    const cases: [Record<string, string>, string][] = [
      [{ authorization: "Basic abc" }, 'authorization must be "Bearer <token>"'],
      [{ authorization: "Bearer not-a-jwt" }, "credential is not a JWT"],
      [{ authorization: `Bearer ${signedUserToken(claims, { kid, jwk: { ...impostor.jwk, kid } })}` }, "invalid credential"],
      [{ authorization: `Bearer ${signedUserToken({ ...claims, exp: now - 10 })}` }, "credential expired"],
      [{ authorization: `Bearer ${signedUserToken({ ...claims, iss: "someone-else" })}` }, "credential from an unknown issuer"],
      [{ authorization: `Bearer ${signedUserToken({ ...claims, aud: "another-api" })}` }, "invalid credential"],
      [{ authorization: `Bearer ${serviceToken("orders")}` }, "the public API takes end users' access tokens only"],
    ];
    for (const [headers, message] of cases) {
      const reply = await stack.request("GET", `/v1/users/${alice.id}`, { headers });
      expect(reply.status).toBe(401);
      expect(reply.body.message).toContain(message);
    }
  });

  it("never lets a client assert its identity with x-user-id or x-user-role", async () => {
    const reply = await stack.request("POST", "/v1/products", {
      headers: { "x-user-id": alice.id, "x-user-role": "admin" },
      token: alice.token,
      body: newProduct(),
    });
    expect(reply.status).toBe(403);
  });
});

describe("Connect and gRPC-Web clients", () => {
  const transports = {
    connect: () => createConnectTransport({ baseUrl: stack.baseUrl, httpVersion: "1.1" }),
    "gRPC-Web": () => createGrpcWebTransport({ baseUrl: stack.baseUrl, httpVersion: "1.1" }),
  };

  describe.each(Object.entries(transports))("over %s", (_name, transport) => {
    it("calls a public method", async () => {
      const client = createClient(CatalogService, transport());
      const { product } = await client.getProduct({ productId: mug.id });
      expect(product?.sku).toBe(mug.sku);
    });

    it("authenticates with the same bearer token and maps the same errors", async () => {
      const client = createClient(InventoryService, transport());
      await expect(client.setStock({ productId: mug.id, quantity: 3 })).rejects.toMatchObject({ code: Code.Unauthenticated });
      await expect(
        client.setStock({ productId: mug.id, quantity: 3 }, { headers: { authorization: `Bearer ${alice.token}` } }),
      ).rejects.toMatchObject({ code: Code.PermissionDenied });
      const { stock } = await client.setStock(
        { productId: mug.id, quantity: 3 },
        { headers: { authorization: `Bearer ${stack.adminToken}` } },
      );
      expect(stock?.available).toBe(3);
      const err = await createClient(CatalogService, transport())
        .getProduct({ productId: "nope" })
        .catch((e: unknown) => ConnectError.from(e));
      expect(err).toMatchObject({ code: Code.InvalidArgument, rawMessage: "productId: must be a valid UUID" });
    });

    it("does not expose methods without a REST route", async () => {
      const client = createClient(CatalogService, transport());
      await expect(client.batchGetProducts(create(BatchGetProductsRequestSchema, { productIds: [mug.id] }))).rejects.toMatchObject({
        code: Code.Unimplemented,
      });
    });
  });

  it("refuses unknown JSON fields over Connect too", async () => {
    const reply = await stack.request("POST", "/shop.catalog.v1.CatalogService/GetProduct", { body: { productId: mug.id, colour: "red" } });
    expect(reply.status).toBe(400);
    expect(reply.body).toMatchObject({ code: "invalid_argument", message: expect.stringContaining('"colour" is unknown') });
  });
});

describe("correlation and operation", () => {
  it("echoes X-Request-Id, and makes one up when absent", async () => {
    const given = await stack.request("GET", "/v1/products?pageSize=1", { headers: { "x-request-id": "req-abc-123" } });
    expect(given.headers.get("x-request-id")).toBe("req-abc-123");
    const made = await stack.request("GET", "/v1/products?pageSize=1");
    expect(made.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
    const garbage = await stack.request("GET", "/v1/products?pageSize=1", { headers: { "x-request-id": "bad id with spaces" } });
    expect(garbage.headers.get("x-request-id")).not.toBe("bad id with spaces");
  });

  it("writes one access log line per request with correlation id, user, route, status and duration", async () => {
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(JSON.parse(chunk.toString()));
        done();
      },
    });
    const logged = await stack.startGateway({ deps: { logger: pino({ level: "info" }, sink) } });
    await logged.request("GET", `/v1/users/${alice.id}`, { token: alice.token, headers: { "x-request-id": "log-me-1" } });
    const line = await waitFor(
      () => lines.find((l) => l.correlationId === "log-me-1"),
      (l) => l !== undefined,
      { what: "the access log line" },
    );
    expect(line).toMatchObject({ msg: "request", userId: alice.id, method: "GET", route: "GET /v1/users/{user_id}", status: 200 });
    expect(line!.durationMs).toEqual(expect.any(Number));
  });

  it("is alive", async () => {
    expect(await stack.request("GET", "/healthz")).toMatchObject({ status: 200, body: { status: "ok" } });
  });

  it("is not ready while an upstream is down, and says which", async () => {
    const reply = await waitFor(
      () => stack.request("GET", "/readyz"),
      (r) => r.body.upstreams.find((u: { upstream: string }) => u.upstream === "catalog")?.compatible === true,
      { what: "the first contract check", timeoutMs: 20_000 },
    );
    expect(reply.status).toBe(503);
    expect(reply.body.status).toBe("not_ready");
    const byName = Object.fromEntries(reply.body.upstreams.map((u: { upstream: string }) => [u.upstream, u]));
    for (const up of ["users", "catalog", "inventory"])
      expect(byName[up]).toMatchObject({ reachable: true, compatible: true, problems: [] });
    expect(byName.orders).toMatchObject({ reachable: false });
    expect(reply.body.problems).toContainEqual(expect.stringMatching(/^orders: unreachable at 127\.0\.0\.1:1/));
  });

  it("exposes Prometheus metrics by route and status", async () => {
    await stack.request("GET", `/v1/products/${mug.id}`);
    const response = await fetch(`${stack.baseUrl}/metrics`);
    const text = await response.text();
    expect(response.headers.get("content-type")).toContain("text/plain");
    expect(text).toMatch(/gateway_http_requests_total\{method="GET",route="GET \/v1\/products\/\{product_id\}",status="200"\} \d+/);
    expect(text).toContain('gateway_http_request_duration_seconds_bucket{le="0.005",method="GET",route="GET /v1/products/{product_id}"}');
    expect(text).toMatch(/gateway_upstream_errors_total\{upstream="orders",code="unavailable"\} \d+/);
    expect(text).toContain('gateway_upstream_contract_compatible{upstream="catalog"} 1');
  });

  it("serves a valid OpenAPI 3.1 document", async () => {
    const reply = await stack.request("GET", "/openapi.json");
    expect(reply.status).toBe(200);
    expect(reply.body.paths["/v1/products/{productId}"].get.operationId).toBe("CatalogService_GetProduct");
    expect((await new Validator().validate(reply.body)).valid).toBe(true);
  });
});
