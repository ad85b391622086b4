import http, { type IncomingMessage, type ServerResponse } from "node:http";
import { performance } from "node:perf_hooks";
import { createRegistry, type DescMethod } from "@bufbuild/protobuf";
import { file_buf_validate_validate } from "@bufbuild/protovalidate/gen/buf/validate/validate_pb.js";
import { shopFiles, shopServices } from "@shop/contracts";
import { MeSummarySchema } from "@shop/contracts/shop/gateway/v1/summary_pb.js";
import { createLogger, createTokenVerifier, type Logger, SpanKind, startSpan } from "@shop/runtime";
import { Exchange, type GatewayParts } from "./admission.js";
import { ContractMonitor, type UpstreamContract } from "./compatibility/contract-monitor.js";
import type { GatewayConfig } from "./config.js";
import { connectProxy } from "./connect-proxy.js";
import { createCors } from "./http/cors.js";
import { sendError } from "./http/reply.js";
import { clientAddressOf, correlationIdOf, traceContextOf, trustedProxyList } from "./http/request-meta.js";
import { handleMeSummary, meSummaryMethods, meSummaryPath } from "./me-summary.js";
import { buildOpenApiDocument } from "./openapi/openapi-document.js";
import { gatewayMetrics } from "./ops/metrics.js";
import { operations } from "./ops/operations.js";
import { handleRest } from "./rest-handler.js";
import { resolveRoutePolicy } from "./routing/route-policy.js";
import { RouteTable, routesFromAnnotations } from "./routing/route-table.js";
import { type IdempotencyStore, openIdempotencyStore } from "./traffic/idempotency.js";
import { RateLimiter } from "./traffic/rate-limiter.js";
import { Upstreams } from "./upstreams.js";

export interface GatewayDeps {
  logger?: Logger;
  /** Where Idempotency-Key answers are kept; by default a NATS JetStream bucket at `config.natsUrl`. */
  idempotency?: IdempotencyStore;
}

/** The gateway's HTTP server, not yet listening, and what it runs in the background. */
export interface GatewayServer extends http.Server {
  /** The runtime contract check; it starts when the server starts listening. */
  readonly contracts: ContractMonitor;
  /** Closes the server, then upstream channels, timers and the idempotency store. */
  shutdown(): Promise<void>;
}

/** Every upstream the gateway calls, with the methods it calls there. */
function upstreamContracts(routes: RouteTable, config: GatewayConfig): Record<string, UpstreamContract> {
  const methods = new Map<string, Set<DescMethod>>();
  const add = (upstream: string, method: DescMethod) => methods.set(upstream, (methods.get(upstream) ?? new Set()).add(method));
  for (const route of routes.routes) add(route.upstream, route.method);
  for (const [upstream, list] of Object.entries(meSummaryMethods)) for (const method of list) add(upstream, method);
  return Object.fromEntries(
    [...methods].map(([upstream, set]) => [
      upstream,
      { address: config.upstreams[upstream as keyof GatewayConfig["upstreams"]], methods: [...set] },
    ]),
  );
}

const pathOf = (url: string | undefined) => (url ?? "/").split("?", 1)[0]!;

/** The request counter and latency histogram of one method and route, bound once. */
interface RouteSeries {
  duration: ReturnType<typeof gatewayMetrics.duration.labels>;
  requests: Map<number, ReturnType<typeof gatewayMetrics.requests.labels>>;
}

const routeSeries = new Map<string, RouteSeries>();

function seriesOf(method: string, route: string): RouteSeries {
  const key = `${method} ${route}`;
  let series = routeSeries.get(key);
  if (!series) routeSeries.set(key, (series = { duration: gatewayMetrics.duration.labels(method, route), requests: new Map() }));
  return series;
}

function record(logger: Logger, req: IncomingMessage, res: ServerResponse, exchange: Exchange, startedAt: number): void {
  const durationMs = performance.now() - startedAt;
  // A response that never finished was cut short by the client (nginx's 499).
  const status = res.writableFinished ? res.statusCode : 499;
  if (status === 499) exchange.abandon();
  const method = req.method ?? "";
  const { span } = exchange;
  if (span.recording) {
    // REST route keys already start with the method (`POST /v1/orders`); http.route is the template alone.
    const template = exchange.route.startsWith(`${method} `) ? exchange.route.slice(method.length + 1) : exchange.route;
    span.span.updateName(`${method} ${template}`);
    span.span.setAttributes({
      "http.route": template,
      "http.response.status_code": status,
      "http.request.header.x-request-id": [exchange.correlationId],
    });
  }
  span.end(status >= 500 ? new Error(`HTTP ${status}`) : undefined);
  const series = seriesOf(method, exchange.route);
  let requests = series.requests.get(status);
  if (!requests) series.requests.set(status, (requests = gatewayMetrics.requests.labels(method, exchange.route, String(status))));
  requests.inc();
  series.duration.observe(durationMs / 1000);
  const entry = {
    correlationId: exchange.correlationId,
    userId: exchange.userId,
    method,
    route: exchange.route,
    status,
    durationMs: Math.round(durationMs * 10) / 10,
  };
  // Probes and scrapes of the operational endpoints would drown the access log.
  if (exchange.operational) logger.debug(entry, "request");
  else logger.info(entry, "request");
}

/** Span attributes of a request, one object per HTTP method rather than one per request. */
const requestAttributes = new Map<string, { "http.request.method": string }>();
const attributesOf = (method = "") => {
  let attributes = requestAttributes.get(method);
  if (!attributes) requestAttributes.set(method, (attributes = { "http.request.method": method }));
  return attributes;
};

/**
 * Builds the gateway: REST routes generated from the contracts' `google.api.http` annotations,
 * the same methods over Connect and gRPC-Web, `/v1/me/summary`, and the operational endpoints.
 * Nothing listens until the caller calls `listen`.
 */
export async function buildGateway(config: GatewayConfig, deps: GatewayDeps = {}): Promise<GatewayServer> {
  const logger = deps.logger ?? createLogger("gateway", config.logLevel);
  const routes = new RouteTable(routesFromAnnotations(shopServices));
  const policy = resolveRoutePolicy(routes);
  const ownsIdempotency = deps.idempotency === undefined;
  const idempotency =
    deps.idempotency ??
    (await openIdempotencyStore({
      natsUrl: config.natsUrl,
      ttlSeconds: config.idempotencyTtlSeconds,
      pendingTimeoutMs: config.upstreamTimeoutMs + 5_000,
    }));
  const parts: GatewayParts = {
    config,
    logger,
    registry: createRegistry(...shopFiles, file_buf_validate_validate),
    routes,
    policy,
    upstreams: new Upstreams(config.upstreams),
    limiter: new RateLimiter(config.rateLimit.capacity, config.rateLimit.refillPerSecond, config.rateLimit.maxClients),
    idempotency,
    tokens: createTokenVerifier(config.tokens),
  };
  const contracts = new ContractMonitor({
    upstreams: upstreamContracts(routes, config),
    intervalMs: config.contractCheckIntervalMs,
    timeoutMs: Math.min(5_000, config.upstreamTimeoutMs),
    logger,
  });
  const openApi = buildOpenApiDocument({
    routes: routes.routes,
    policy,
    extraOperations: [
      {
        httpMethod: "GET",
        path: meSummaryPath,
        operationId: "Gateway_GetMeSummary",
        summary: "The caller's profile, recent orders and notifications",
        response: MeSummarySchema,
        authenticated: true,
      },
    ],
  });
  const ops = operations(contracts, JSON.stringify(openApi));
  const cors = createCors(config.corsOrigins);
  const exchanges = new WeakMap<IncomingMessage, Exchange>();
  const trustedProxies = config.trustedProxies.length > 0 ? trustedProxyList(config.trustedProxies) : undefined;

  const fail = (res: ServerResponse, exchange: Exchange) => (err: unknown) =>
    sendError(res, err, parts.registry, logger, exchange.correlationId);
  const serveRest = (req: IncomingMessage, res: ServerResponse) => {
    const exchange = exchanges.get(req)!;
    const handler = pathOf(req.url) === meSummaryPath ? handleMeSummary : handleRest;
    handler(parts, req, res, exchange).catch(fail(res, exchange));
  };
  const serveConnectOrRest = connectProxy(parts, exchanges, serveRest);

  const limits = config.http;
  const server = http.createServer(
    {
      // Node answers 431 to headers above this size, and closes connections whose headers or
      // body arrive slower than their timeouts allow (checked every second).
      maxHeaderSize: limits.maxHeaderBytes,
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      keepAliveTimeout: limits.keepAliveTimeoutMs,
      connectionsCheckingInterval: Math.min(1_000, limits.headersTimeoutMs),
    },
    (req, res) => {
      const startedAt = performance.now();
      // One server span per request; every upstream call of the request is its child.
      const span = startSpan(`${req.method} unmatched`, SpanKind.SERVER, traceContextOf(req.headers), attributesOf(req.method));
      const exchange = new Exchange(correlationIdOf(req.headers), clientAddressOf(req, trustedProxies), span);
      exchanges.set(req, exchange);
      res.setHeader("x-request-id", exchange.correlationId);
      res.once("close", () => record(logger, req, res, exchange, startedAt));
      try {
        if (cors(req, res) === "answered") return;
      } catch (err) {
        fail(res, exchange)(err);
        return;
      }
      const path = pathOf(req.url);
      const operation = ops.get(path);
      if (operation) {
        exchange.route = path;
        exchange.operational = true;
        operation(req, res).catch(fail(res, exchange));
        return;
      }
      serveConnectOrRest(req, res);
    },
  );
  server.maxConnections = limits.maxConnections;

  server.once("listening", () => contracts.start());
  let stopping: Promise<void> | undefined;
  return Object.assign(server, {
    contracts,
    shutdown(): Promise<void> {
      stopping ??= (async () => {
        if (server.listening) {
          // In-flight requests may finish within the grace; connections still open after it are cut.
          const closed = new Promise<void>((resolve) => {
            server.close(() => resolve());
            server.closeIdleConnections();
          });
          let grace: NodeJS.Timeout | undefined;
          const graceOver = new Promise<void>((resolve) => {
            grace = setTimeout(resolve, limits.shutdownGraceMs);
            grace.unref();
          });
          await Promise.race([closed, graceOver]);
          clearTimeout(grace);
          server.closeAllConnections();
          await closed;
        }
        contracts.close();
        parts.limiter.close();
        parts.upstreams.close();
        if (ownsIdempotency) await idempotency.close();
      })();
      return stopping;
    },
  });
}
