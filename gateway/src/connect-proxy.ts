import type { IncomingMessage, ServerResponse } from "node:http";
import { promisify } from "node:util";
import { brotliDecompress, gunzip } from "node:zlib";
import type { DescService, JsonValue, Message } from "@bufbuild/protobuf";
import {
  Code,
  ConnectError,
  createConnectRouter,
  createContextKey,
  createContextValues,
  type HandlerContext,
  type ServiceImpl,
} from "@connectrpc/connect";
import {
  compressionBrotli,
  compressionGzip,
  universalRequestFromNodeRequest,
  universalResponseToNodeResponse,
} from "@connectrpc/connect-node";
import { codeName, errors, httpStatusOf, isIdempotencyConflict, publicError } from "@shop/runtime";
import { admit, type Exchange, type GatewayParts, upstreamHeaders } from "./admission.js";
import { readBody } from "./http/body.js";
import { HttpError } from "./http/errors.js";
import { parseStrictJson } from "./http/strict-json.js";
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
      if (isIdempotencyConflict(err)) exchange.errorStatus = 422;
      if (!(err instanceof ConnectError))
        parts.logger.error({ err, correlationId: exchange.correlationId, procedure }, "connect call failed unexpectedly");
      throw publicError(err);
    }
  };
}

const decompressors: Record<string, (bytes: Buffer, options: { maxOutputLength: number }) => Promise<Buffer>> = {
  gzip: promisify(gunzip),
  br: promisify(brotliDecompress),
};

/**
 * The body of a unary Connect call in JSON, read as the REST routes read theirs (limit, strict
 * JSON), so that both paths refuse the same bodies; the Connect handler takes it parsed.
 */
async function connectJsonBody(req: IncomingMessage, limit: number): Promise<JsonValue> {
  let body = (await readBody(req, limit)) ?? Buffer.alloc(0);
  const encoding = req.headers["content-encoding"];
  if (encoding !== undefined && encoding !== "identity") {
    const decompress = decompressors[encoding];
    if (!decompress) throw new ConnectError(`Content-Encoding "${encoding}" is not accepted (gzip, br)`, Code.Unimplemented);
    body = await decompress(body, { maxOutputLength: limit }).catch((err: unknown) => {
      throw (err as NodeJS.ErrnoException).code === "ERR_BUFFER_TOO_LARGE"
        ? new HttpError(413, Code.ResourceExhausted, `request body exceeds the limit of ${limit} bytes`)
        : errors.invalidArgument("body", `cannot be decompressed (${encoding})`);
    });
  }
  return parseStrictJson(body.toString("utf8"));
}

const isUnaryConnectJson = (req: IncomingMessage) =>
  req.method === "POST" &&
  /^application\/json\b/i.test(req.headers["content-type"] ?? "") &&
  req.headers["connect-protocol-version"] !== undefined;

/** A refusal before the Connect handler ran, in the Connect protocol's error form. */
function sendConnectError(res: ServerResponse, err: unknown): void {
  const error = err instanceof HttpError ? new ConnectError(err.message, err.code) : ConnectError.from(err);
  const status = err instanceof HttpError ? err.status : httpStatusOf(error.code);
  const body = JSON.stringify({ code: codeName(error.code), message: error.rawMessage });
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
  res.end(body);
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
  const router = createConnectRouter({
    connect: true,
    grpcWeb: true,
    grpc: false,
    readMaxBytes: parts.config.bodyLimitBytes,
    jsonOptions: { ignoreUnknownFields: false },
    acceptCompression: [compressionGzip, compressionBrotli],
  });
  // Methods left out of an implementation answer UNIMPLEMENTED. The implementation is built
  // per method name at run time, which the static ServiceImpl type cannot describe.
  for (const [service, impl] of services) router.service(service, impl as unknown as Partial<ServiceImpl<DescService>>);
  const handlers = new Map(router.handlers.map((handler) => [handler.requestPath, handler]));
  const limit = parts.config.bodyLimitBytes;

  return (req, res) => {
    const handler = handlers.get((req.url ?? "").split("?", 1)[0]!);
    if (!handler) {
      fallback(req, res);
      return;
    }
    const values = createContextValues().set(exchangeKey, exchanges.get(req));
    const request = isUnaryConnectJson(req)
      ? connectJsonBody(req, limit).then((body) => universalRequestFromNodeRequest(req, res, body, values))
      : Promise.resolve(universalRequestFromNodeRequest(req, res, undefined, values));
    request.then(
      (universal) =>
        handler(universal)
          .then((response) => {
            const errorStatus = exchanges.get(req)?.errorStatus;
            // Connect errors carry their code in the body; the status can say what REST says.
            const answer = errorStatus !== undefined && response.status >= 400 ? { ...response, status: errorStatus } : response;
            return universalResponseToNodeResponse(answer, res);
          })
          .catch((err: unknown) => {
            if (ConnectError.from(err).code !== Code.Aborted) parts.logger.error({ err }, "connect response failed");
          }),
      (err: unknown) => sendConnectError(res, err),
    );
  };
}
