import type { IncomingMessage, ServerResponse } from "node:http";
import type { DescService, Message } from "@bufbuild/protobuf";
import {
  Code,
  ConnectError,
  type ConnectRouter,
  createContextKey,
  createContextValues,
  type HandlerContext,
  type ServiceImpl,
} from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { admit, type Exchange, type GatewayParts, upstreamHeaders } from "./admission.js";
import type { Route } from "./routing/route-table.js";

const exchangeKey = createContextKey<Exchange | undefined>(undefined, { description: "gateway exchange" });

function exchangeOf(ctx: HandlerContext): Exchange {
  const exchange = ctx.values.get(exchangeKey);
  if (!exchange) throw new ConnectError("request arrived outside the gateway's request handler", Code.Internal);
  return exchange;
}

function proxy(parts: GatewayParts, route: Route) {
  const { method } = route;
  const admission = { anonymousAllowed: parts.policy.isPublic(method), cost: parts.policy.rateCost(method) };
  const procedure = `/${method.parent.typeName}/${method.name}`;
  return async (input: Message, ctx: HandlerContext) => {
    const exchange = exchangeOf(ctx);
    exchange.route = procedure;
    try {
      const caller = await admit(parts, exchange, ctx.requestHeader.get("authorization") ?? undefined, admission);
      const cap = parts.config.upstreamTimeoutMs;
      const timeoutMs = Math.min(ctx.timeoutMs() ?? cap, cap);
      const idempotencyKey = ctx.requestHeader.get("idempotency-key") ?? undefined;
      const headers = upstreamHeaders(exchange, caller, idempotencyKey);
      return await parts.upstreams.call(route.upstream, method, input, { signal: ctx.signal, timeoutMs, headers });
    } catch (err) {
      if (err instanceof ConnectError) throw err;
      parts.logger.error({ err, correlationId: exchange.correlationId, procedure }, "connect call failed unexpectedly");
      throw new ConnectError("internal error", Code.Internal);
    }
  };
}

/**
 * The routed methods over the Connect protocol and gRPC-Web, for generated Connect clients in
 * TypeScript and browsers: the same admission, upstream calls and errors as REST. Methods
 * without a REST route are internal and not exposed here either. Other paths go to `fallback`.
 */
export function connectProxy(
  parts: GatewayParts,
  exchanges: WeakMap<IncomingMessage, Exchange>,
  fallback: (req: IncomingMessage, res: ServerResponse) => void,
): (req: IncomingMessage, res: ServerResponse) => void {
  const services = new Map<DescService, Record<string, ReturnType<typeof proxy>>>();
  for (const route of parts.routes.routes) {
    const impl = services.get(route.method.parent) ?? {};
    impl[route.method.localName] ??= proxy(parts, route);
    services.set(route.method.parent, impl);
  }
  return connectNodeAdapter({
    // Methods left out of an implementation answer UNIMPLEMENTED. The implementation is built
    // per method name at run time, which the static ServiceImpl type cannot describe.
    routes: (router: ConnectRouter) => {
      for (const [service, impl] of services) router.service(service, impl as unknown as Partial<ServiceImpl<DescService>>);
    },
    connect: true,
    grpcWeb: true,
    grpc: false,
    readMaxBytes: parts.config.bodyLimitBytes,
    jsonOptions: { ignoreUnknownFields: false },
    contextValues: (req) => createContextValues().set(exchangeKey, exchanges.get(req as IncomingMessage)),
    fallback: (req, res) => fallback(req as IncomingMessage, res as ServerResponse),
  });
}
