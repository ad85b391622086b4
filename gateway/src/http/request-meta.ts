import { randomUUID } from "node:crypto";
import type { IncomingHttpHeaders, IncomingMessage } from "node:http";
import { BlockList, isIP, isIPv4, isIPv6 } from "node:net";
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

/** IPv4 clients of a dual-stack socket show as `::ffff:a.b.c.d`; limits and logs use the IPv4 form. */
const unmapped = (address: string) => (address.startsWith("::ffff:") && isIPv4(address.slice(7)) ? address.slice(7) : address);

/** The addresses of the proxies in front of the gateway (load balancers, ingress), as a matcher. */
export function trustedProxyList(entries: readonly string[]): BlockList {
  const list = new BlockList();
  for (const entry of entries) {
    const [address, prefix] = entry.split("/") as [string, string | undefined];
    const type = isIPv4(address) ? "ipv4" : isIPv6(address) ? "ipv6" : undefined;
    if (!type) throw new Error(`"${entry}" is not an IP address or CIDR range`);
    if (prefix === undefined) list.addAddress(address, type);
    else list.addSubnet(address, Number(prefix), type);
  }
  return list;
}

const isTrusted = (proxies: BlockList, address: string) =>
  isIPv4(address) ? proxies.check(address, "ipv4") : isIPv6(address) ? proxies.check(address, "ipv6") : false;

/**
 * Who is calling, for rate limiting: the socket's address; when that is a trusted proxy, the
 * rightmost X-Forwarded-For hop that is not one (each proxy appends the address it saw, so
 * entries left of the first untrusted hop are whatever the client chose to send).
 */
export function clientAddressOf(req: IncomingMessage, trustedProxies: BlockList | undefined): string {
  let address = unmapped(req.socket.remoteAddress ?? "unknown");
  if (!trustedProxies || !isTrusted(trustedProxies, address)) return address;
  const header = req.headers["x-forwarded-for"];
  const hops = (Array.isArray(header) ? header.join(",") : (header ?? "")).split(",");
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = unmapped(hops[i]!.trim());
    if (!isIP(hop)) return address;
    address = hop;
    if (!isTrusted(trustedProxies, hop)) return hop;
  }
  return address;
}
