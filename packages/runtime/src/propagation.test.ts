import { Code, ConnectError } from "@connectrpc/connect";
import { InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace";
import { CatalogService } from "@shop/contracts/shop/catalog/v1/catalog_pb.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createServiceClient } from "./grpc-client.js";
import { type RunningGrpcServer, registration, startGrpcServer } from "./grpc-server.js";
import { createLogger } from "./logger.js";
import { currentContext, type RequestContext, runWithContext } from "./request-context.js";
import { testTokenVerifier } from "./testing/credentials.js";
import { initTracing } from "./tracing.js";

const spans = new InMemorySpanExporter();
let front: RunningGrpcServer;
let back: RunningGrpcServer;
const seenByBack: RequestContext[] = [];
const slowId = "8d0f7b8e-1b9a-4c53-9a43-0c8a5f1e0999";
const product = { id: "8d0f7b8e-1b9a-4c53-9a43-0c8a5f1e0001", sku: "MUG-001", name: "Mug" };

beforeAll(async () => {
  initTracing("propagation-test", [new SimpleSpanProcessor({ exporter: spans })]);
  const logger = createLogger("test", "silent");
  back = await startGrpcServer({
    logger,
    tokens: testTokenVerifier(),
    host: "127.0.0.1",
    port: 0,
    registrations: [
      registration(CatalogService, {
        async getProduct(req: { productId: string }, ctx: { signal: AbortSignal }) {
          seenByBack.push({ ...currentContext()! });
          // "slow" answers only when the call is given up, like a stuck upstream.
          if (req.productId === slowId) await new Promise((resolve) => ctx.signal.addEventListener("abort", resolve));
          return { product };
        },
      } as never),
    ],
  });
  const backClient = createServiceClient(CatalogService, { address: back.address });
  // A middle hop that calls the next service with no explicit headers or timeout.
  front = await startGrpcServer({
    logger,
    tokens: testTokenVerifier(),
    host: "127.0.0.1",
    port: 0,
    registrations: [registration(CatalogService, { getProduct: (req: { productId: string }) => backClient.getProduct(req) } as never)],
  });
});

afterAll(async () => {
  await front?.shutdown(0);
  await back?.shutdown(0);
});

describe("work context across gRPC hops", () => {
  it("carries correlation id, trace and a shrinking deadline through a middle service", async () => {
    const client = createServiceClient(CatalogService, { address: front.address });
    const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    const started = Date.now();
    await runWithContext({ correlationId: "corr-42", traceparent: `00-${traceId}-00f067aa0ba902b7-01`, deadline: started + 5_000 }, () =>
      client.getProduct({ productId: product.id }),
    );
    client.close();
    const seen = seenByBack.at(-1)!;
    expect(seen.correlationId).toBe("corr-42");
    expect(seen.traceparent).toMatch(new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`));
    expect(seen.traceparent).not.toContain("00f067aa0ba902b7");
    expect(seen.deadline).toBeGreaterThan(started);
    // grpc-timeout travels in whole milliseconds, so allow for rounding; the default would be 10 s.
    expect(seen.deadline).toBeLessThan(started + 5_100);
    const names = spans
      .getFinishedSpans()
      .filter((s) => s.spanContext().traceId === traceId)
      .map((s) => s.name);
    expect(names.filter((n) => n === "shop.catalog.v1.CatalogService/GetProduct")).toHaveLength(4);
  });

  it("gives up at the deadline with DEADLINE_EXCEEDED, and on abort with CANCELED", async () => {
    const client = createServiceClient(CatalogService, { address: back.address });
    const late = await client.getProduct({ productId: slowId }, { timeoutMs: 200 }).catch((err: unknown) => ConnectError.from(err));
    expect((late as ConnectError).code).toBe(Code.DeadlineExceeded);
    const controller = new AbortController();
    const pending = client.getProduct({ productId: slowId }, { signal: controller.signal }).catch((err: unknown) => ConnectError.from(err));
    controller.abort();
    expect(((await pending) as ConnectError).code).toBe(Code.Canceled);
    client.close();
  });

  it("runs interceptors around the call, and counts their wait against its deadline", async () => {
    const seen: string[] = [];
    const client = createServiceClient(CatalogService, {
      address: back.address,
      interceptors: [
        (next) => async (req) => {
          seen.push(`${req.method.name} ${req.header.get("x-request-id")}`);
          // Like a call queued in a full bulkhead.
          if ((req.message as { productId?: string }).productId === product.id && seen.length > 1)
            await new Promise((resolve) => setTimeout(resolve, 300));
          return next(req);
        },
      ],
    });
    const answer = await runWithContext({ correlationId: "corr-intercepted" }, () => client.getProduct({ productId: product.id }));
    expect(answer.product?.sku).toBe("MUG-001");
    const late = await client.getProduct({ productId: product.id }, { timeoutMs: 100 }).catch((err: unknown) => ConnectError.from(err));
    expect((late as ConnectError).code).toBe(Code.DeadlineExceeded);
    expect(seen[0]).toBe("GetProduct corr-intercepted");
    client.close();
  });
});
