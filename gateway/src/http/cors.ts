import type { IncomingMessage, ServerResponse } from "node:http";
import { Code, cors as connectCors } from "@connectrpc/connect";
import { HttpError } from "./errors.js";

const allowedMethods = ["GET", "POST", "PUT", "PATCH", "DELETE"].join(", ");
const allowedHeaders = [
  ...new Set([
    "authorization",
    "content-type",
    "idempotency-key",
    "x-request-id",
    "x-request-timeout",
    "traceparent",
    "tracestate",
    ...connectCors.allowedHeaders.map((h) => h.toLowerCase()),
  ]),
].join(", ");
const exposedHeaders = [
  ...new Set(["x-request-id", "retry-after", "idempotent-replayed", ...connectCors.exposedHeaders.map((h) => h.toLowerCase())]),
].join(", ");

export type CorsOutcome = "continue" | "answered";

/**
 * CORS for the configured origins (`*` allows any). Sets the response headers for allowed
 * origins and answers preflight requests itself.
 */
export function createCors(origins: readonly string[]) {
  const anyOrigin = origins.includes("*");
  const allowed = new Set(origins);
  return (req: IncomingMessage, res: ServerResponse): CorsOutcome => {
    const origin = req.headers.origin;
    if (origin === undefined) return "continue";
    const preflight = req.method === "OPTIONS" && req.headers["access-control-request-method"] !== undefined;
    if (!anyOrigin && !allowed.has(origin)) {
      if (preflight) throw new HttpError(403, Code.PermissionDenied, `origin ${origin} is not allowed`);
      return "continue";
    }
    res.setHeader("access-control-allow-origin", origin);
    res.setHeader("vary", "Origin");
    if (!preflight) {
      res.setHeader("access-control-expose-headers", exposedHeaders);
      return "continue";
    }
    res.writeHead(204, {
      "access-control-allow-methods": allowedMethods,
      "access-control-allow-headers": allowedHeaders,
      "access-control-max-age": "600",
    });
    res.end();
    return "answered";
  };
}
