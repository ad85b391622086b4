import type { DescService } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, createClient, type HandlerContext } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { CatalogService, type GetProductRequest } from "@shop/contracts/shop/catalog/v1/catalog_pb.js";
import {
  type ListNotificationsRequest,
  NotificationKind,
  NotificationService,
} from "@shop/contracts/shop/notifications/v1/notifications_pb.js";
import { type ListOrdersRequest, OrderService, OrderStatus } from "@shop/contracts/shop/orders/v1/orders_pb.js";
import { callerOf, createLogger, initTracing, type Principal, type RunningGrpcServer, requireUser, startGrpcServer } from "@shop/runtime";
import { testTokenVerifier } from "@shop/runtime/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Customer, type GatewayStack, startGatewayStack } from "./testing/gateway-stack.js";
import { closedAddress, type RunningGateway } from "./testing/running-gateway.js";

const hangingProductId = "00000000-0000-4000-8000-0000000000ff";
const traceId = "0af7651916cd43dd8448eb211c80319c";
const traceparent = `00-${traceId}-b7ad6b7169203331-01`;
const traceIdOf = (header: string | null) => header?.split("-")[1];

interface SeenCall {
  method: string;
  headers: Headers;
  caller: Principal;
  timeoutMs?: number;
  request: unknown;
}

const seen: SeenCall[] = [];
const servers: RunningGrpcServer[] = [];

/** Answers after the call's deadline only: it waits for the call to be cancelled. */
const untilCancelled = (ctx: HandlerContext) =>
  new Promise<never>((_, reject) => ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason)));

/** A real gRPC server for `service` whose handlers record what reached them. */
async function standIn(service: DescService, impl: Record<string, (request: any, ctx: HandlerContext) => unknown>): Promise<string> {
  const recorded = Object.fromEntries(
    Object.entries(impl).map(([name, handler]) => [
      name,
      (request: unknown, ctx: HandlerContext) => {
        seen.push({ method: name, headers: ctx.requestHeader, caller: callerOf(ctx), timeoutMs: ctx.timeoutMs(), request });
        return handler(request, ctx);
      },
    ]),
  );
  const server = await startGrpcServer({
    registrations: [{ service, impl: recorded }],
    logger: createLogger("stand-in", "silent"),
    tokens: testTokenVerifier(),
    host: "127.0.0.1",
    port: 0,
  });
  servers.push(server);
  return server.address;
}

const lastCall = (method: string) => seen.filter((call) => call.method === method).at(-1)!;

let stack: GatewayStack;
let alice: Customer;
let catalogStandIn: string;
let ordersStandIn: string;
let notificationsStandIn: string;
let hangingNotifications: string;

beforeAll(async () => {
  // As in a gateway process (main.ts), so that every hop records its own span.
  initTracing("gateway");
  catalogStandIn = await standIn(CatalogService, {
    getProduct: async (req: GetProductRequest, ctx) => {
      if (req.productId === hangingProductId) return untilCancelled(ctx);
      if (req.productId.endsWith("0000000000ee")) throw new Error('relation "products" does not exist at /srv/catalog/db.ts:12');
      return { product: { id: req.productId, sku: "STAND-IN", name: "Stand-in" } };
    },
    createProduct: async () => ({ product: { id: "00000000-0000-4000-8000-000000000001" } }),
  });
  ordersStandIn = await standIn(OrderService, {
    listOrders: async (_req: ListOrdersRequest, ctx) => {
      const caller = requireUser(ctx);
      return {
        orders: [
          {
            id: "00000000-0000-4000-8000-0000000000a1",
            userId: caller.userId,
            status: OrderStatus.CONFIRMED,
            total: { currencyCode: "USD", amountMinor: 2598n },
            createTime: timestampFromDate(new Date("2026-01-02T03:04:05Z")),
          },
        ],
      };
    },
  });
  notificationsStandIn = await standIn(NotificationService, {
    listNotifications: async (_req: ListNotificationsRequest, ctx) => ({
      notifications: [{ id: "n-1", userId: requireUser(ctx).userId, kind: NotificationKind.ORDER_CONFIRMED, subject: "Order confirmed" }],
    }),
  });
  hangingNotifications = await standIn(NotificationService, { listNotifications: async (_req: unknown, ctx) => untilCancelled(ctx) });
  stack = await startGatewayStack();
  alice = await stack.customer();
});

afterAll(async () => {
  await stack?.stop();
  await Promise.all(servers.map((server) => server.shutdown(100)));
});

describe("what travels to the upstream", () => {
  // Far above the deadlines clients ask for below, so that answering well before it shows theirs was used.
  const cap = 5000;
  let gateway: RunningGateway;

  beforeAll(async () => {
    gateway = await stack.startGateway({ upstreams: { catalog: catalogStandIn }, env: { GATEWAY_UPSTREAM_TIMEOUT_MS: String(cap) } });
  });

  it("passes the correlation id, trace context and the caller's verified token; never identity headers from the client", async () => {
    await gateway.request("GET", "/v1/products/00000000-0000-4000-8000-000000000002", {
      token: alice.token,
      headers: { "x-request-id": "corr-123", traceparent },
    });
    const call = lastCall("getProduct");
    expect(call.headers.get("x-request-id")).toBe("corr-123");
    // The same trace, continued by the gateway's own spans.
    expect(traceIdOf(call.headers.get("traceparent"))).toBe(traceId);
    expect(call.headers.get("traceparent")).not.toBe(traceparent);
    expect(call.headers.get("authorization")).toBe(`Bearer ${alice.token}`);
    expect(call.caller).toEqual({ kind: "user", userId: alice.id, role: "customer" });

    await gateway.request("GET", "/v1/products/00000000-0000-4000-8000-000000000002", {
      headers: { "x-user-id": "someone-else", "x-user-role": "admin", traceparent: "not-a-traceparent" },
    });
    const anonymous = lastCall("getProduct");
    expect(anonymous.headers.get("x-user-id")).toBeNull();
    expect(anonymous.headers.get("authorization")).toBeNull();
    expect(anonymous.caller).toEqual({ kind: "anonymous" });
    // A malformed traceparent is dropped; the gateway starts a trace of its own.
    expect(anonymous.headers.get("traceparent")).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/);
    expect(traceIdOf(anonymous.headers.get("traceparent"))).not.toBe(traceId);
    expect(anonymous.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("passes the Idempotency-Key on", async () => {
    await gateway.request("POST", "/v1/products", {
      token: stack.adminToken,
      headers: { "idempotency-key": `key-${Date.now()}` },
      body: { sku: "PASS-ON", name: "x", description: "", price: { currencyCode: "USD", amountMinor: "1" } },
    });
    expect(lastCall("createProduct").headers.get("idempotency-key")).toMatch(/^key-\d+$/);
  });

  it("gives every call the configured deadline, and a shorter one when the client asks", async () => {
    await gateway.request("GET", "/v1/products/00000000-0000-4000-8000-000000000003");
    expect(lastCall("getProduct").timeoutMs).toBeGreaterThan(cap - 2000);
    expect(lastCall("getProduct").timeoutMs).toBeLessThanOrEqual(cap);
    await gateway.request("GET", "/v1/products/00000000-0000-4000-8000-000000000003", { headers: { "x-request-timeout": "60000" } });
    expect(lastCall("getProduct").timeoutMs).toBeLessThanOrEqual(cap);
    await gateway.request("GET", "/v1/products/00000000-0000-4000-8000-000000000003", { headers: { "x-request-timeout": "700" } });
    expect(lastCall("getProduct").timeoutMs).toBeLessThanOrEqual(700);
  });

  it.each([
    ["X-Request-Timeout", { "x-request-timeout": "300" }, 300],
    ["grpc-timeout", { "grpc-timeout": "250m" }, 250],
  ])("answers 504 when the upstream misses a deadline set by %s", async (_header, headers, timeoutMs) => {
    const started = Date.now();
    const reply = await gateway.request("GET", `/v1/products/${hangingProductId}`, { headers });
    expect(reply.status).toBe(504);
    expect(reply.body).toMatchObject({ code: "deadline_exceeded", message: `catalog service did not answer within ${timeoutMs} ms` });
    expect(Date.now() - started).toBeLessThan(cap - 1000);
  });

  it("applies a Connect client's deadline too", async () => {
    const client = createClient(CatalogService, createConnectTransport({ baseUrl: gateway.baseUrl, httpVersion: "1.1" }));
    await expect(client.getProduct({ productId: hangingProductId }, { timeoutMs: 200 })).rejects.toMatchObject({
      code: Code.DeadlineExceeded,
    });
  });

  it("shows an upstream's internal failure as a bare internal error", async () => {
    const reply = await gateway.request("GET", "/v1/products/00000000-0000-4000-8000-0000000000ee");
    expect(reply).toMatchObject({ status: 500, body: { code: "internal", message: "internal error", details: [] } });
    expect(JSON.stringify(reply.body)).not.toContain("relation");
  });

  it("names the service, not its address, when an upstream is down", async () => {
    const reply = await stack.request("GET", "/v1/orders", { token: alice.token });
    expect(reply).toMatchObject({ status: 503, body: { code: "unavailable", message: "orders service is unavailable" } });
    expect(JSON.stringify(reply.body)).not.toContain(closedAddress);
  });
});

describe("GET /v1/me/summary", () => {
  it("composes the caller's profile, recent orders and notifications", async () => {
    const gateway = await stack.startGateway({ upstreams: { orders: ordersStandIn, notifications: notificationsStandIn } });
    const reply = await gateway.request("GET", "/v1/me/summary", { token: alice.token });
    expect(reply.status).toBe(200);
    expect(reply.body).toEqual({
      user: expect.objectContaining({ id: alice.id, email: alice.email, role: "ROLE_CUSTOMER" }),
      recentOrders: [
        expect.objectContaining({
          id: "00000000-0000-4000-8000-0000000000a1",
          userId: alice.id,
          status: "ORDER_STATUS_CONFIRMED",
          total: { currencyCode: "USD", amountMinor: "2598" },
          createTime: "2026-01-02T03:04:05Z",
        }),
      ],
      notifications: [expect.objectContaining({ id: "n-1", userId: alice.id, kind: "NOTIFICATION_KIND_ORDER_CONFIRMED" })],
    });
    expect((lastCall("listOrders").request as ListOrdersRequest).pageSize).toBe(5);
    // One request, one trace: every part is a child of the request's span.
    expect(traceIdOf(lastCall("listOrders").headers.get("traceparent"))).toBe(
      traceIdOf(lastCall("listNotifications").headers.get("traceparent")),
    );
  });

  it("names the part that is unavailable", async () => {
    const gateway = await stack.startGateway({ upstreams: { orders: closedAddress, notifications: notificationsStandIn } });
    const reply = await gateway.request("GET", "/v1/me/summary", { token: alice.token });
    expect(reply).toMatchObject({
      status: 503,
      body: { code: "unavailable", message: "summary incomplete: recentOrders: orders service is unavailable" },
    });
  });

  it("answers within the deadline when a part hangs, naming every part that failed", async () => {
    const gateway = await stack.startGateway({ upstreams: { orders: closedAddress, notifications: hangingNotifications } });
    const started = Date.now();
    const reply = await gateway.request("GET", "/v1/me/summary", { token: alice.token, headers: { "x-request-timeout": "300" } });
    // The gateway's own cap is the default 10 s.
    expect(Date.now() - started).toBeLessThan(5000);
    expect(reply.status).toBe(504);
    expect(reply.body).toMatchObject({
      code: "deadline_exceeded",
      message:
        "summary incomplete: recentOrders: orders service is unavailable; notifications: notifications service did not answer within 300 ms",
    });
  });

  it("needs a signed-in caller", async () => {
    expect((await stack.request("GET", "/v1/me/summary")).status).toBe(401);
  });
});
