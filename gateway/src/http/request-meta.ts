import { randomUUID } from "node:crypto";
import type { IncomingHttpHeaders, IncomingMessage } from "node:http";
import { errors, type TraceCarrier } from "@shop/runtime";

const requestIdPattern = /^[A-Za-z0-9._:-]{1,128}$/;
const grpcTimeoutPattern = /^(\d{1,8})([HMSmun])$/;
const grpcTimeoutUnitMs: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 0.001, n: 0.000001 };
const traceparentPattern = /^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;

const single = (value: string | string[] | undefined) => (Array.isArray(value) ? value[0] : value);

/** The client's X-Request-Id when it is a sane token, else a fresh one. */
export function correlationIdOf(headers: IncomingHttpHeaders): string {
  const given = single(headers["x-request-id"]);
  return given !== undefined && requestIdPattern.test(given) ? given : randomUUID();
}

/**
 * Deadline of the upstream call: the client's `grpc-timeout` (gRPC notation, e.g. `500m`) or
 * `X-Request-Timeout` (milliseconds), never above the configured cap, which is also the default.
 */
export function timeoutFromHeaders(headers: IncomingHttpHeaders, capMs: number): number {
  const grpcTimeout = single(headers["grpc-timeout"]);
  if (grpcTimeout !== undefined) {
    const match = grpcTimeoutPattern.exec(grpcTimeout);
    if (!match) throw errors.invalidArgument("grpc-timeout", `expected an integer and a unit (H, M, S, m, u, n), got "${grpcTimeout}"`);
    return Math.min(capMs, Math.max(1, Math.ceil(Number(match[1]) * grpcTimeoutUnitMs[match[2]!]!)));
  }
  const requestTimeout = single(headers["x-request-timeout"]);
  if (requestTimeout !== undefined) {
    if (!/^\d{1,9}$/.test(requestTimeout) || Number(requestTimeout) === 0) {
      throw errors.invalidArgument("X-Request-Timeout", `expected a positive number of milliseconds, got "${requestTimeout}"`);
    }
    return Math.min(capMs, Number(requestTimeout));
  }
  return capMs;
}

/** The client's W3C trace context, when it sent a well-formed one. */
export function traceContextOf(headers: IncomingHttpHeaders): TraceCarrier {
  const traceparent = single(headers.traceparent);
  if (traceparent === undefined || !traceparentPattern.test(traceparent)) return {};
  return { traceparent, tracestate: single(headers.tracestate) };
}

/** Who is calling, for rate limiting: the socket's address, or the first X-Forwarded-For hop behind a trusted proxy. */
export function clientAddressOf(req: IncomingMessage, trustProxy: boolean): string {
  if (trustProxy) {
    const forwarded = single(req.headers["x-forwarded-for"])?.split(",")[0]?.trim();
    if (forwarded) return forwarded;
  }
  return req.socket.remoteAddress ?? "unknown";
}
