import { randomUUID } from "node:crypto";
import http from "node:http";
import net from "node:net";
import { demoProducts } from "@shop/runtime";
import { credentialsEnv, waitFor } from "@shop/runtime/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadGatewayConfig } from "./config.js";
import { type Customer, type GatewayStack, startGatewayStack } from "./testing/gateway-stack.js";
import { closedAddress, type HttpReply, type RunningGateway } from "./testing/running-gateway.js";
import { openIdempotencyStore } from "./traffic/idempotency.js";

const allowedOrigin = "https://shop.example";
const bodyLimit = 1024;

let stack: GatewayStack;
let alice: Customer;
let bob: Customer;
const mug = demoProducts[0].id;

beforeAll(async () => {
  stack = await startGatewayStack({ gatewayEnv: { GATEWAY_CORS_ORIGINS: allowedOrigin, GATEWAY_BODY_LIMIT_BYTES: String(bodyLimit) } });
  [alice, bob] = await Promise.all([stack.customer(), stack.customer()]);
});

afterAll(async () => {
  await stack?.stop();
});

const newProduct = (sku = `IDEM-${randomUUID().slice(0, 8).toUpperCase()}`) => ({
  sku,
  name: "Idempotent",
  description: "",
  price: { currencyCode: "USD", amountMinor: "100" },
});

describe("rate limiting", () => {
  let limited: RunningGateway;

  beforeAll(async () => {
    limited = await stack.startGateway({ env: { GATEWAY_RATE_LIMIT_CAPACITY: "3", GATEWAY_RATE_LIMIT_REFILL_PER_SECOND: "1" } });
    // Warmed up from the admin's own bucket, so the bursts below are not slowed by connecting.
    await limited.request("GET", `/v1/users/${alice.id}`, { token: stack.adminToken });
  });

  /** A quick burst: the first `capacity` pass; a slow machine may refill a token or two before the first refusal. */
  async function burst(path: string, token?: string): Promise<HttpReply[]> {
    const replies: HttpReply[] = [];
    for (let i = 0; i < 10; i++) replies.push(await limited.request("GET", path, { token }));
    expect(replies.slice(0, 3).map((r) => r.status)).toEqual([200, 200, 200]);
    expect(replies.some((r) => r.status === 429)).toBe(true);
    return replies;
  }

  it("answers 429 with Retry-After once a client's bucket is empty, then lets it in again", async () => {
    const refused = (await burst(`/v1/products/${mug}`)).find((r) => r.status === 429)!;
    expect(refused.headers.get("retry-after")).toBe("1");
    expect(refused.body).toMatchObject({ code: "resource_exhausted", message: "rate limit exceeded: retry after 1 s" });
    await waitFor(
      () => limited.request("GET", `/v1/products/${mug}`),
      (r) => r.status === 200,
      { timeoutMs: 3_000, intervalMs: 100, what: "the bucket to refill" },
    );
  });

  it("keeps a bucket per signed-in user, apart from the address's", async () => {
    await burst(`/v1/users/${alice.id}`, alice.token);
    await burst(`/v1/users/${bob.id}`, bob.token);
  });
});

describe("what a request costs", () => {
  it("charges a password check what the contract declares: five sign-ins empty an address's bucket of 100", async () => {
    const gateway = await stack.startGateway({ env: { GATEWAY_RATE_LIMIT_CAPACITY: "100", GATEWAY_RATE_LIMIT_REFILL_PER_SECOND: "1" } });
    const attempts: number[] = [];
    for (let i = 0; i < 6; i++) {
      attempts.push(
        (await gateway.request("POST", "/v1/auth/token", { body: { email: `nobody-${i}-${randomUUID()}@example.com`, password: "guess" } }))
          .status,
      );
    }
    expect(attempts.slice(0, 5)).toEqual([401, 401, 401, 401, 401]);
    expect(attempts[5]).toBe(429);
    expect((await gateway.request("GET", `/v1/products/${mug}`)).status).toBe(429);
  });

  it("answers 429 with Retry-After once an account has failed five sign-ins, whichever client tries", async () => {
    const victim = await stack.customer();
    for (let i = 0; i < 5; i++) {
      const failed = await stack.request("POST", "/v1/auth/token", {
        body: { email: victim.email, password: "guess" },
        headers: { "x-forwarded-for": `198.51.100.${i}` },
      });
      expect(failed.status).toBe(401);
    }
    const refused = await stack.request("POST", "/v1/auth/token", { body: { email: victim.email, password: "correct horse battery" } });
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(refused.body).toMatchObject({ code: "resource_exhausted", message: expect.stringContaining("too many failed sign-ins") });
  });

  it("charges credentials that fail verification to the client's address, then answers 429 instead of checking more", async () => {
    const gateway = await stack.startGateway({
      env: { GATEWAY_RATE_LIMIT_CAPACITY: "30", GATEWAY_RATE_LIMIT_REFILL_PER_SECOND: "1", GATEWAY_FAILED_AUTH_COST: "10" },
    });
    const forged = `${alice.token.slice(0, -4)}AAAA`;
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await gateway.request("GET", `/v1/users/${alice.id}`, { token: forged })).status);
    expect(statuses).toEqual([401, 401, 401, 429]);
    expect((await gateway.request("GET", `/v1/products/${mug}`)).status).toBe(429);
    expect((await gateway.request("GET", `/v1/users/${alice.id}`, { token: alice.token })).status).toBe(200);
  });
});

describe("client addresses behind proxies", () => {
  const limitedBehind = (trusted?: string) =>
    stack.startGateway({
      env: {
        GATEWAY_RATE_LIMIT_CAPACITY: "2",
        GATEWAY_RATE_LIMIT_REFILL_PER_SECOND: "1",
        ...(trusted === undefined ? {} : { GATEWAY_TRUSTED_PROXIES: trusted }),
      },
    });
  const read = (gateway: RunningGateway, forwardedFor: string) =>
    gateway.request("GET", `/v1/products/${mug}`, { headers: { "x-forwarded-for": forwardedFor } }).then((r) => r.status);

  it("takes the rightmost hop that is not a trusted proxy: rotating what the client writes in front gains nothing", async () => {
    const gateway = await limitedBehind("127.0.0.1,10.0.0.0/8");
    const rotating = [];
    for (let i = 1; i <= 5; i++) rotating.push(await read(gateway, `198.51.100.${i}, 203.0.113.7, 10.1.2.3`));
    expect(rotating).toEqual([200, 200, 429, 429, 429]);
    expect(await read(gateway, "203.0.113.8, 10.1.2.3")).toBe(200);
  });

  it("ignores X-Forwarded-For from a connection that is not a trusted proxy, and when no proxy is configured", async () => {
    for (const gateway of [await limitedBehind("10.0.0.0/8"), await limitedBehind()]) {
      const statuses = [];
      for (let i = 1; i <= 3; i++) statuses.push(await read(gateway, `198.51.100.${i}`));
      expect(statuses).toEqual([200, 200, 429]);
    }
  });

  it("refuses the retired GATEWAY_TRUST_PROXY and a proxy list that does not parse, naming the variable", () => {
    const base = credentialsEnv("gateway");
    expect(() => loadGatewayConfig({ ...base, GATEWAY_TRUST_PROXY: "true" })).toThrow(/GATEWAY_TRUST_PROXY is no longer read/);
    expect(() => loadGatewayConfig({ ...base, GATEWAY_TRUSTED_PROXIES: "10.0.0.0/8,proxy.internal" })).toThrow(
      /GATEWAY_TRUSTED_PROXIES "proxy.internal" is not an IP address/,
    );
  });
});

describe("HTTP server limits", () => {
  let limited: RunningGateway;
  let port: number;

  beforeAll(async () => {
    limited = await stack.startGateway({
      env: {
        GATEWAY_MAX_HEADER_BYTES: "4096",
        GATEWAY_HEADERS_TIMEOUT_MS: "500",
        GATEWAY_REQUEST_TIMEOUT_MS: "800",
        GATEWAY_MAX_CONNECTIONS: "3",
        GATEWAY_SHUTDOWN_GRACE_MS: "200",
      },
    });
    port = Number(new URL(limited.baseUrl).port);
  });

  /** A raw connection; resolves with what the server sent once it closes (or resets) the connection. */
  function rawExchange(write: (socket: net.Socket) => void): Promise<string> {
    return new Promise((resolve) => {
      const socket = net.connect(port, "127.0.0.1", () => write(socket));
      let received = "";
      socket.on("data", (chunk) => (received += chunk));
      socket.on("close", () => resolve(received));
      socket.on("error", () => undefined);
    });
  }

  it("answers 431 to headers over the limit", async () => {
    const reply = await limited.request("GET", `/v1/products/${mug}`, { headers: { "x-padding": "p".repeat(8 * 1024) } });
    expect(reply.status).toBe(431);
  });

  it("closes a connection whose headers never finish (slowloris)", async () => {
    const received = await rawExchange((socket) => socket.write(`GET /v1/products/${mug} HTTP/1.1\r\nHost: shop\r\nX-Slow: 1`));
    expect(received).toMatch(/^HTTP\/1\.1 408|^$/);
  });

  it("answers 408 to a body that never finishes", async () => {
    const received = await rawExchange((socket) =>
      socket.write('POST /v1/auth/token HTTP/1.1\r\nHost: shop\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"email"'),
    );
    expect(received).toMatch(/^HTTP\/1\.1 408/);
  });

  it("takes no more connections than its limit", async () => {
    const held = await Promise.all(
      [1, 2, 3].map(
        () =>
          new Promise<net.Socket>((resolve) => {
            const socket = net.connect(port, "127.0.0.1", () => resolve(socket));
          }),
      ),
    );
    const refused = await rawExchange((socket) => socket.write(`GET /v1/products/${mug} HTTP/1.1\r\nHost: shop\r\n\r\n`));
    expect(refused).toBe("");
    for (const socket of held) socket.destroy();
  });

  it("stops within its shutdown grace although a client holds a request open", async () => {
    const gateway = await stack.startGateway({ env: { GATEWAY_SHUTDOWN_GRACE_MS: "200", GATEWAY_REQUEST_TIMEOUT_MS: "600000" } });
    const held = await new Promise<net.Socket>((resolve) => {
      const socket = net.connect(Number(new URL(gateway.baseUrl).port), "127.0.0.1", () => {
        socket.write("POST /v1/auth/token HTTP/1.1\r\nHost: shop\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{");
        resolve(socket);
      });
    });
    const closed = new Promise<void>((resolve) => held.on("close", () => resolve()));
    await gateway.gateway.shutdown();
    await closed;
  });
});

describe("Idempotency-Key on creating POSTs", () => {
  it("replays the stored response for the same key and body", async () => {
    const key = randomUUID();
    const body = newProduct();
    const first = await stack.request("POST", "/v1/products", { token: stack.adminToken, body, headers: { "idempotency-key": key } });
    const again = await stack.request("POST", "/v1/products", { token: stack.adminToken, body, headers: { "idempotency-key": key } });
    expect(first.status).toBe(200);
    expect(first.headers.get("idempotent-replayed")).toBeNull();
    expect(again.status).toBe(200);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect(again.body).toEqual(first.body);
  });

  it("refuses the same key with a different body with 422", async () => {
    const key = randomUUID();
    await stack.request("POST", "/v1/products", { token: stack.adminToken, body: newProduct(), headers: { "idempotency-key": key } });
    const other = await stack.request("POST", "/v1/products", {
      token: stack.adminToken,
      body: newProduct(),
      headers: { "idempotency-key": key },
    });
    expect(other.status).toBe(422);
    expect(other.body.message).toMatch(/^Idempotency-Key: already used for a different POST \/v1\/products request/);
  });

  it("keeps keys apart per caller", async () => {
    const key = randomUUID();
    const body = { email: `idem-${key}@example.com`, name: "Idem", password: "long-enough-1" };
    const anonymous = await stack.request("POST", "/v1/users", { body, headers: { "idempotency-key": key } });
    const signedIn = await stack.request("POST", "/v1/users", { body, token: alice.token, headers: { "idempotency-key": key } });
    expect(anonymous.status).toBe(200);
    // Alice's request ran for real: the email was taken by then.
    expect(signedIn).toMatchObject({ status: 409, body: { code: "already_exists" } });
  });

  it("replays a definite refusal too, but runs a conflict (409) again: the next try may find things changed", async () => {
    const refusedKey = randomUUID();
    const invalid = { email: "not-an-email", name: "Bad", password: "long-enough-1" };
    const refused = await stack.request("POST", "/v1/users", { body: invalid, headers: { "idempotency-key": refusedKey } });
    const refusedAgain = await stack.request("POST", "/v1/users", { body: invalid, headers: { "idempotency-key": refusedKey } });
    expect([refused.status, refusedAgain.status]).toEqual([400, 400]);
    expect(refusedAgain.headers.get("idempotent-replayed")).toBe("true");

    const key = randomUUID();
    const body = { email: alice.email, name: "Dup", password: "long-enough-1" };
    const first = await stack.request("POST", "/v1/users", { body, headers: { "idempotency-key": key } });
    const again = await stack.request("POST", "/v1/users", { body, headers: { "idempotency-key": key } });
    expect([first.status, again.status]).toEqual([409, 409]);
    expect(again.headers.get("idempotent-replayed")).toBeNull();
  });

  it("keeps no answer of a moment: an upstream that was down is called for real on the retry", async () => {
    const usersDown = await stack.startGateway({ upstreams: { users: closedAddress } });
    const key = randomUUID();
    const body = { email: `retry-${randomUUID()}@example.com`, name: "Retry", password: "long-enough-1" };
    const down = await usersDown.request("POST", "/v1/users", { body, headers: { "idempotency-key": key } });
    expect(down.status).toBe(503);
    const retried = await stack.request("POST", "/v1/users", { body, headers: { "idempotency-key": key } });
    expect(retried.status).toBe(200);
    expect(retried.headers.get("idempotent-replayed")).toBeNull();
    const replayed = await stack.request("POST", "/v1/users", { body, headers: { "idempotency-key": key } });
    expect(replayed.headers.get("idempotent-replayed")).toBe("true");
    expect(replayed.body).toEqual(retried.body);
  });

  it("runs a request once when the same key arrives twice at the same time", async () => {
    const key = randomUUID();
    const body = newProduct();
    const replies = await Promise.all(
      [1, 2].map(() => stack.request("POST", "/v1/products", { token: stack.adminToken, body, headers: { "idempotency-key": key } })),
    );
    const codes = replies.map((r) => r.body.code ?? "ok").sort();
    // The loser either sees the first still running (409 aborted) or its stored answer; never a second creation.
    expect([
      ["ok", "ok"],
      ["aborted", "ok"],
    ]).toContainEqual(codes);
  });

  it("is shared by every gateway replica", async () => {
    const replica = await stack.startGateway();
    const key = randomUUID();
    const body = newProduct();
    const first = await stack.request("POST", "/v1/products", { token: stack.adminToken, body, headers: { "idempotency-key": key } });
    const onReplica = await replica.request("POST", "/v1/products", { token: stack.adminToken, body, headers: { "idempotency-key": key } });
    expect(onReplica.headers.get("idempotent-replayed")).toBe("true");
    expect(onReplica.body).toEqual(first.body);
  });

  it("answers 503, not a guess, when the store cannot be reached", async () => {
    const store = await openIdempotencyStore({ natsUrl: loadGatewayConfig(process.env).natsUrl, ttlSeconds: 60, pendingTimeoutMs: 1_000 });
    await store.close();
    const cutOff = await stack.startGateway({ deps: { idempotency: store } });
    const reply = await cutOff.request("POST", "/v1/products", {
      token: stack.adminToken,
      body: newProduct(),
      headers: { "idempotency-key": randomUUID() },
    });
    expect(reply).toMatchObject({
      status: 503,
      body: { code: "unavailable", message: "Idempotency-Key cannot be honoured right now; retry later" },
    });
  });

  it("runs every request without a key, and ignores keys on routes that do not create", async () => {
    const withoutKey = await stack.request("POST", "/v1/products", { token: stack.adminToken, body: newProduct("SAME-SKU-1") });
    const duplicate = await stack.request("POST", "/v1/products", { token: stack.adminToken, body: newProduct("SAME-SKU-1") });
    expect([withoutKey.status, duplicate.status]).toEqual([200, 409]);
    const key = randomUUID();
    for (const quantity of [5, 5]) {
      const reply = await stack.request("PUT", `/v1/products/${mug}/stock`, {
        token: stack.adminToken,
        body: { quantity },
        headers: { "idempotency-key": key },
      });
      expect(reply.status).toBe(200);
      expect(reply.headers.get("idempotent-replayed")).toBeNull();
    }
  });
});

/** Sends a body of `size` bytes, declared or chunked, and reads whatever the gateway answers. */
function upload(size: number, chunked: boolean): Promise<{ status: number; connection?: string; body: any }> {
  const url = new URL(`${stack.baseUrl}/v1/users`);
  return new Promise((resolve, reject) => {
    const request = http.request(url, {
      method: "POST",
      headers: chunked ? { "content-type": "application/json" } : { "content-type": "application/json", "content-length": size },
    });
    request.on("response", (response) => {
      const chunks: Buffer[] = [];
      response.on("data", (chunk: Buffer) => chunks.push(chunk));
      response.on("end", () =>
        resolve({
          status: response.statusCode!,
          connection: response.headers.connection,
          body: JSON.parse(Buffer.concat(chunks).toString()),
        }),
      );
    });
    // The gateway may close the connection before the whole body is sent; that is the point.
    request.on("error", (err: NodeJS.ErrnoException) => (err.code === "EPIPE" || err.code === "ECONNRESET" ? undefined : reject(err)));
    const chunk = Buffer.alloc(256, " ");
    let sent = 0;
    const writeMore = () => {
      while (sent < size) {
        const part = chunk.subarray(0, Math.min(chunk.length, size - sent));
        sent += part.length;
        if (!request.write(part)) return request.once("drain", writeMore);
      }
      request.end();
    };
    writeMore();
  });
}

describe("request size limit", () => {
  it("defaults to 1 MiB", () => {
    expect(loadGatewayConfig(credentialsEnv("gateway")).bodyLimitBytes).toBe(1024 * 1024);
  });

  it.each([
    ["declared with Content-Length", false],
    ["streamed in chunks", true],
  ])("refuses a body over the limit %s with 413", async (_how, chunked) => {
    const reply = await upload(bodyLimit * 64, chunked);
    expect(reply.status).toBe(413);
    expect(reply.connection).toBe("close");
    expect(reply.body).toMatchObject({ code: "resource_exhausted", message: `request body exceeds the limit of ${bodyLimit} bytes` });
  });

  it("takes a body within the limit", async () => {
    const reply = await stack.request("POST", "/v1/auth/token", { body: { email: alice.email, password: "correct horse battery" } });
    expect(reply.status).toBe(200);
  });
});

describe("routing errors", () => {
  it("answers 404 for unknown routes and 405 with Allow for a wrong method", async () => {
    expect(await stack.request("GET", "/v2/products")).toMatchObject({
      status: 404,
      body: { code: "not_found", message: "no route for GET /v2/products" },
    });
    const wrongMethod = await stack.request("DELETE", `/v1/products/${mug}`);
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers.get("allow")).toBe("GET");
    expect(wrongMethod.body.code).toBe("unimplemented");
    expect((await stack.request("POST", "/v1/me/summary")).status).toBe(405);
    expect((await stack.request("POST", "/healthz")).status).toBe(405);
  });
});

describe("CORS", () => {
  const preflight = (origin: string, path = "/v1/products") =>
    fetch(`${stack.baseUrl}${path}`, {
      method: "OPTIONS",
      headers: {
        origin,
        "access-control-request-method": "POST",
        "access-control-request-headers": "authorization, content-type, idempotency-key",
      },
    });

  it("answers a preflight from an allowed origin", async () => {
    const response = await preflight(allowedOrigin);
    expect(response.status).toBe(204);
    expect(response.headers.get("access-control-allow-origin")).toBe(allowedOrigin);
    expect(response.headers.get("access-control-allow-methods")).toContain("POST");
    expect(response.headers.get("access-control-allow-headers")).toEqual(expect.stringContaining("idempotency-key"));
    expect(response.headers.get("access-control-allow-headers")).toEqual(expect.stringContaining("authorization"));
  });

  it("answers a Connect preflight too", async () => {
    const response = await preflight(allowedOrigin, "/shop.catalog.v1.CatalogService/GetProduct");
    expect(response.status).toBe(204);
    expect(response.headers.get("access-control-allow-headers")).toEqual(expect.stringContaining("connect-protocol-version"));
  });

  it("refuses a preflight from another origin", async () => {
    const response = await preflight("https://evil.example");
    expect(response.status).toBe(403);
    expect(response.headers.get("access-control-allow-origin")).toBeNull();
  });

  it("marks responses to allowed origins only", async () => {
    const allowed = await stack.request("GET", `/v1/products/${mug}`, { headers: { origin: allowedOrigin } });
    expect(allowed.headers.get("access-control-allow-origin")).toBe(allowedOrigin);
    expect(allowed.headers.get("access-control-expose-headers")).toContain("x-request-id");
    const other = await stack.request("GET", `/v1/products/${mug}`, { headers: { origin: "https://evil.example" } });
    expect(other.headers.get("access-control-allow-origin")).toBeNull();
  });
});
