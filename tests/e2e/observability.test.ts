import { randomBytes, randomUUID } from "node:crypto";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { contexts, demoProducts, envPrefix } from "@shop/runtime";
import { waitFor } from "@shop/runtime/testing";
import { type Browser, chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureBundle } from "../../console/src/server/bundle.js";
import { loadConsoleOptions } from "../../console/src/server/config.js";
import { type RunningConsole, startConsole } from "../../console/src/server/console-server.js";
import type { ReceivedSpan } from "../../console/src/server/otlp.js";
import { chromiumPath } from "../../scripts/infra.js";
import { freePort } from "../support/free-port.js";
import { repoRoot } from "../support/service-process.js";
import { type RunningStack, startStack } from "../support/stack.js";
import { ShopApi, shippingAddress } from "./support/shop-api.js";

/**
 * The whole system as processes (each service and the gateway its own, so each sends its spans
 * as itself), exporting over OTLP to the development console running in this process: the
 * services in protobuf, the gateway in JSON. One checkout must arrive as one trace, and the
 * console must show it in a real browser.
 */

let stack: RunningStack;
let devConsole: RunningConsole;
let api: ShopApi;
const product = demoProducts[0]!;

beforeAll(async () => {
  const consolePort = await freePort();
  const [, started] = await Promise.all([
    ensureBundle(),
    startStack({
      logLevel: "info",
      env: {
        OTEL_TRACES_EXPORTER: "otlp",
        OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${consolePort}`,
        OTEL_EXPORTER_OTLP_PROTOCOL: "http/protobuf",
        OTEL_BSP_SCHEDULE_DELAY: "200",
        SEED_DEMO_DATA: "true",
      },
      gatewayEnv: { OTEL_EXPORTER_OTLP_PROTOCOL: "http/json" },
    }),
  ]);
  stack = started;
  const addresses = Object.fromEntries(contexts.map((context) => [`${envPrefix(context)}_ADDR`, stack.system.service(context).address]));
  devConsole = await startConsole(
    loadConsoleOptions({
      ...addresses,
      ...Object.fromEntries(contexts.map((context) => [`${envPrefix(context)}_METRICS_PORT`, "0"])),
      DEV_CONSOLE_PORT: String(consolePort),
      GATEWAY_URL: stack.gatewayUrl,
      NATS_URL: stack.system.nats.url,
    }),
  );
  api = new ShopApi(stack.gatewayUrl);
}, 240_000);

afterAll(async () => {
  await devConsole?.close();
  await stack?.stop();
});

const spansOf = (traceId: string) => devConsole.traces.trace(traceId)?.spans ?? [];
const find = (spans: ReceivedSpan[], service: string, kind: ReceivedSpan["kind"], name: string) => {
  const found = spans.filter((span) => span.service === service && span.kind === kind && span.name === name);
  expect(found, `${service} ${kind} ${name}`).toHaveLength(1);
  return found[0]!;
};

describe("one checkout is one trace, exported over OTLP from every process", () => {
  it("links the gateway, every gRPC hop, the saga's steps, the outbox, NATS and both consumers in one tree", async () => {
    const customer = await api.registerCustomer("Olive Otlp");
    const traceId = randomBytes(16).toString("hex");
    const clientSpanId = randomBytes(8).toString("hex");
    const placed = await api.request<{ order: { id: string } }>("POST", "/v1/orders", {
      token: customer.token,
      body: { items: [{ productId: product.id, quantity: 1 }], shippingAddress, paymentToken: "tok_visa" },
      headers: { traceparent: `00-${traceId}-${clientSpanId}-01`, "x-request-id": `otlp-${randomUUID()}` },
    });
    expect(placed.status, JSON.stringify(placed.body)).toBe(200);
    const orderId = placed.body.order.id;
    expect((await api.settledOrder(orderId, customer.token)).status).toBe("ORDER_STATUS_CONFIRMED");

    // Each process sends its spans on its own schedule: wait for the last hops of every one.
    const awaited: [string, string][] = [
      ["notifications", "process shop.orders.order_confirmed"],
      ["orders", "process shop.orders.order_confirmed"],
      ["notifications", "process shop.shipping.shipment_created"],
      ["gateway", "POST /v1/orders"],
      ["catalog", "shop.catalog.v1.CatalogService/BatchGetProducts"],
      ["payments", "shop.payments.v1.PaymentService/CapturePayment"],
      ["inventory", "shop.inventory.v1.InventoryService/CommitStock"],
      ["shipping", "publish shop.shipping.shipment_created"],
    ];
    const spans = await waitFor(
      () => spansOf(traceId),
      (list) => awaited.every(([service, name]) => list.some((span) => span.service === service && span.name === name)),
      { timeoutMs: 30_000, what: "the last spans of every process taking part" },
    );

    expect(new Set(spans.map((span) => span.service))).toEqual(
      new Set(["gateway", "orders", "catalog", "payments", "inventory", "shipping", "notifications"]),
    );
    // A tree: one root, the gateway's request, under the client's span; every other parent is in the trace.
    const ids = new Set(spans.map((span) => span.spanId));
    const roots = spans.filter((span) => !ids.has(span.parentSpanId));
    expect(roots.map((span) => [span.service, span.kind, span.name, span.parentSpanId])).toEqual([
      ["gateway", "SERVER", "POST /v1/orders", clientSpanId],
    ]);
    const parentOf = (span: ReceivedSpan) => spans.find((candidate) => candidate.spanId === span.parentSpanId)!;

    const request = roots[0]!;
    expect(request.attributes).toMatchObject({
      "http.request.method": "POST",
      "http.route": "/v1/orders",
      "http.response.status_code": 200,
    });
    const callOrders = find(spans, "gateway", "CLIENT", "shop.orders.v1.OrderService/PlaceOrder");
    expect(parentOf(callOrders)).toBe(request);
    const placeOrder = find(spans, "orders", "SERVER", "shop.orders.v1.OrderService/PlaceOrder");
    expect(parentOf(placeOrder)).toBe(callOrders);
    expect(placeOrder.attributes).toMatchObject({
      "rpc.system": "grpc",
      "rpc.service": "shop.orders.v1.OrderService",
      "rpc.method": "PlaceOrder",
    });

    // The order's placement: outbox write, publish, and the order history's processing, each the child of the one before.
    const placedWrite = find(spans, "orders", "PRODUCER", "create shop.orders.order_placed");
    expect(parentOf(placedWrite)).toBe(placeOrder);
    expect(placedWrite.attributes).toMatchObject({ "db.system.name": "postgresql", "messaging.system": "nats" });
    const placedPublish = find(spans, "orders", "PRODUCER", "publish shop.orders.order_placed");
    expect(parentOf(placedPublish)).toBe(placedWrite);
    expect(placedPublish.attributes).toMatchObject({
      "messaging.operation.type": "send",
      "messaging.destination.name": "shop.orders.order_placed",
    });

    // The saga's steps, each calling its service, under the call that placed the order.
    const steps = ["PRICE", "AUTHORIZE", "RESERVE", "SHIP", "CAPTURE", "COMMIT"].map((step) =>
      find(spans, "orders", "INTERNAL", `saga ${step}`),
    );
    for (const step of steps) expect(parentOf(step)).toBe(placeOrder);
    const served = [
      ["catalog", "shop.catalog.v1.CatalogService/BatchGetProducts", 0],
      ["payments", "shop.payments.v1.PaymentService/AuthorizePayment", 1],
      ["inventory", "shop.inventory.v1.InventoryService/ReserveStock", 2],
      ["shipping", "shop.shipping.v1.ShippingService/CreateShipment", 3],
      ["payments", "shop.payments.v1.PaymentService/CapturePayment", 4],
      ["inventory", "shop.inventory.v1.InventoryService/CommitStock", 5],
    ] as const;
    for (const [service, method, step] of served) {
      const server = find(spans, service, "SERVER", method);
      const client = parentOf(server);
      expect([client.service, client.kind, client.name]).toEqual(["orders", "CLIENT", method]);
      expect(parentOf(client)).toBe(steps[step]);
    }

    // Across the NATS hop: the confirmation's write, its publish, and both consumers' processing.
    const confirmedWrite = find(spans, "orders", "PRODUCER", "create shop.orders.order_confirmed");
    expect(parentOf(confirmedWrite)).toBe(steps[5]);
    const confirmedPublish = find(spans, "orders", "PRODUCER", "publish shop.orders.order_confirmed");
    expect(parentOf(confirmedPublish)).toBe(confirmedWrite);
    for (const [service, consumer] of [
      ["notifications", "notifications"],
      ["orders", "orders-history"],
    ] as const) {
      const processing = find(spans, service, "CONSUMER", "process shop.orders.order_confirmed");
      expect(parentOf(processing)).toBe(confirmedPublish);
      expect(processing.attributes).toMatchObject({ "messaging.operation.type": "process", "messaging.consumer.group.name": consumer });
    }
    // A service's own event crosses to another service's consumer the same way.
    const shipmentCreated = find(spans, "notifications", "CONSUMER", "process shop.shipping.shipment_created");
    expect([parentOf(shipmentCreated).service, parentOf(shipmentCreated).name]).toEqual([
      "shipping",
      "publish shop.shipping.shipment_created",
    ]);

    // Logs carry the trace and span of the work they were written in: the confirmation, in the COMMIT step.
    const ordersLog = readFileSync(path.join(stack.system.dir, "orders.log"), "utf8").split("\n");
    const confirmed = ordersLog
      .map((line) => (line.startsWith("{") ? JSON.parse(line) : {}))
      .find((entry) => entry.msg === "order confirmed" && entry.orderId === orderId);
    expect(confirmed).toMatchObject({ trace_id: traceId, span_id: steps[5]!.spanId });

    // Found by the order id and the request id.
    expect(devConsole.traces.search(orderId).map((trace) => trace.traceId)).toEqual([traceId]);
  });
});

const browserFlags = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
const chromiumMissing = existsSync(chromiumPath())
  ? undefined
  : `no Chromium at ${chromiumPath()} (npm test installs Debian's chromium where apt-get can)`;
if (chromiumMissing) console.warn(`skipping the development console's browser test: ${chromiumMissing}`);

describe.skipIf(chromiumMissing !== undefined)("the development console in a browser", () => {
  let browser: Browser;
  const screenshots = path.join(repoRoot, ".run", "test-output", "console");

  beforeAll(async () => {
    mkdirSync(screenshots, { recursive: true });
    // Playwright gives the browser a fresh profile of its own (the user data directory).
    browser = await chromium.launch({ executablePath: chromiumPath(), headless: true, args: browserFlags });
  });
  afterAll(async () => {
    await browser?.close();
  });

  it("places an order through the API explorer, then shows its trace across the services and its saga ending CONFIRMED", async () => {
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    const shot = (name: string) => page.screenshot({ path: path.join(screenshots, `${name}.png`), fullPage: true });

    await page.goto(`${devConsole.url}/#/services`);
    await page.locator('[data-testid="services"] tbody tr', { hasText: "orders" }).getByText("SERVING").waitFor();
    await page.locator('[data-testid="services"] tbody tr', { hasText: "payments" }).click();
    const rpcs = page.locator('[data-testid="rpcs-payments"]');
    await rpcs.getByText("PaymentService/AuthorizePayment").waitFor();
    // The route and the access policy are custom method options, read from what reflection served.
    const getOrderPayment = rpcs.locator("tr", { hasText: "PaymentService/GetOrderPayment" });
    await getOrderPayment.getByText("GET /v1/orders/{order_id}/payment").waitFor();
    await getOrderPayment.getByText("owner", { exact: true }).waitFor();
    await rpcs.locator("tr", { hasText: "PaymentService/AuthorizePayment" }).getByText("services: orders", { exact: true }).waitFor();
    await shot("services");

    await page.goto(`${devConsole.url}/#/explorer`);
    await page.locator('[data-route="POST /v1/orders"]').click();
    await page.locator('[data-testid="user"]').selectOption("customer");
    await page
      .locator('[data-testid="body"]')
      .fill(JSON.stringify({ items: [{ productId: product.id, quantity: 1 }], shippingAddress, paymentToken: "tok_visa" }, null, 2));
    await page.locator('[data-testid="send"]').click();
    await expect.poll(() => page.locator('[data-testid="status"]').textContent(), { timeout: 15_000 }).toBe("200");
    const orderId = (JSON.parse((await page.locator('[data-testid="response-body"]').textContent()) ?? "{}") as { order: { id: string } })
      .order.id;
    await shot("explorer");

    await page.locator('[data-testid="trace-link"]').click();
    const waterfall = page.locator('[data-testid="waterfall"]');
    for (const service of ["gateway", "orders", "payments", "inventory", "shipping", "notifications"]) {
      await waterfall.locator(`[data-service="${service}"]`).first().waitFor({ timeout: 30_000 });
    }
    await waterfall.getByText("process shop.orders.order_confirmed").first().waitFor({ timeout: 30_000 });
    await shot("trace");

    await page.goto(`${devConsole.url}/#/traces`);
    await page.locator('[data-testid="trace-search"]').fill(orderId);
    await page.locator('[data-testid="traces"] tbody tr').first().waitFor();
    await shot("traces");

    await page.goto(`${devConsole.url}/#/sagas`);
    const saga = page.locator(`[data-testid="saga"][data-order="${orderId}"]`);
    await expect.poll(() => saga.getAttribute("data-status"), { timeout: 30_000 }).toBe("CONFIRMED");
    await expect.poll(() => saga.locator("tbody tr").count()).toBe(6);
    await shot("sagas");

    await page.goto(`${devConsole.url}/#/events`);
    await page.locator('[data-testid="consumers"]').getByText("notifications").first().waitFor();
    await shot("events");

    await page.goto(`${devConsole.url}/#/plots`);
    await page.locator('[data-testid="checkout-chart"] canvas').first().waitFor();
    await shot("plots");
    await page.close();
  });
});
