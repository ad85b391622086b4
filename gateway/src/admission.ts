import type { Registry } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import type { ClientUnaryCall } from "@grpc/grpc-js";
import { type ActiveSpan, type Logger, metadataKeys, type TokenVerifier, type TraceCarrier } from "@shop/runtime";
import type { GatewayConfig } from "./config.js";
import type { RoutePolicy } from "./routing/route-policy.js";
import type { RouteTable } from "./routing/route-table.js";
import { authenticate, type Caller } from "./security/authenticate.js";
import type { IdempotencyStore } from "./traffic/idempotency.js";
import type { RateLimiter } from "./traffic/rate-limiter.js";
import type { Upstreams } from "./upstreams.js";

/** One request as the gateway sees it, from arrival to the access log line. */
export class Exchange {
  /** Route key, Connect procedure or operational path; "unmatched" until known. */
  route = "unmatched";
  userId?: string;
  /** A request to /healthz, /readyz, /metrics or /openapi.json. */
  operational = false;
  /** An HTTP status the error answer takes instead of its code's (422 for a reused Idempotency-Key). */
  errorStatus?: number;
  /** When the request arrived (epoch ms): a client's timeout counts from here, not from the upstream call. */
  readonly receivedAt = Date.now();
  private upstreamCalls?: ClientUnaryCall[];

  constructor(
    readonly correlationId: string,
    readonly clientAddress: string,
    /** The request's server span: the parent of every upstream call. */
    readonly span: ActiveSpan,
  ) {}

  /** Trace context for upstream calls: the request's own server span as parent. */
  get trace(): TraceCarrier {
    return this.span.carrier;
  }

  /** Remembers an upstream call, so a client that goes away cancels it (`abandon`). */
  readonly track = (call: ClientUnaryCall): void => {
    (this.upstreamCalls ??= []).push(call);
  };

  /** The client went away before its response was complete: its upstream calls are of no use. */
  abandon(): void {
    for (const call of this.upstreamCalls ?? []) call.cancel();
  }
}

/** What every request handler of the gateway works with. */
export interface GatewayParts {
  config: GatewayConfig;
  logger: Logger;
  /** Every message type of the contracts, for JSON of Any and error details. */
  registry: Registry;
  routes: RouteTable;
  policy: RoutePolicy;
  upstreams: Upstreams;
  limiter: RateLimiter;
  idempotency: IdempotencyStore;
  /** Checks the access tokens requests carry. */
  tokens: TokenVerifier;
}

/** What a call needs to be let in: whether its method is public, and what it costs. */
export interface Admission {
  anonymousAllowed: boolean;
  /** Requests of the caller's rate limit this call spends. */
  cost: number;
}

function refuseOverLimit(retryAfterSeconds: number): never {
  throw new ConnectError(`rate limit exceeded: retry after ${retryAfterSeconds} s`, Code.ResourceExhausted, {
    "retry-after": String(retryAfterSeconds),
  });
}

/**
 * Lets a request in, or not: verifies its token (required unless the method is public), then
 * spends the call's cost of the caller's rate limit (by user, else by client address). A
 * credential that fails verification spends the address's tokens too, so forged tokens cannot
 * be tried at the rate of signature checks; once they are spent, the answer is 429.
 */
export async function admit(
  parts: GatewayParts,
  exchange: Exchange,
  authorization: string | undefined,
  { anonymousAllowed, cost }: Admission,
): Promise<Caller | undefined> {
  let caller: Caller | undefined;
  try {
    caller = await authenticate(parts.tokens, authorization, anonymousAllowed);
  } catch (err) {
    if (authorization) {
      const decision = parts.limiter.take(`address:${exchange.clientAddress}`, parts.config.failedAuthCost);
      if (!decision.allowed) refuseOverLimit(decision.retryAfterSeconds);
    }
    throw err;
  }
  exchange.userId = caller?.userId;
  const decision = parts.limiter.take(caller ? `user:${caller.userId}` : `address:${exchange.clientAddress}`, cost);
  if (!decision.allowed) refuseOverLimit(decision.retryAfterSeconds);
  return caller;
}

/**
 * Metadata of an upstream call, built afresh: the end user's verified access token goes on as the
 * call's credential, which the service verifies itself; nothing else a client sent is passed on.
 */
export function upstreamHeaders(exchange: Exchange, caller: Caller | undefined, idempotencyKey?: string): Record<string, string> {
  const headers: Record<string, string> = { [metadataKeys.correlationId]: exchange.correlationId };
  if (exchange.trace.traceparent) headers[metadataKeys.traceparent] = exchange.trace.traceparent;
  if (exchange.trace.tracestate) headers[metadataKeys.tracestate] = exchange.trace.tracestate;
  if (caller) headers.authorization = `Bearer ${caller.token}`;
  if (idempotencyKey !== undefined) headers[metadataKeys.idempotencyKey] = idempotencyKey;
  return headers;
}
