import { AsyncLocalStorage } from "node:async_hooks";
import { randomUUID } from "node:crypto";
import { Code, ConnectError } from "@connectrpc/connect";

/** What travels with a unit of work across every hop (gRPC metadata, NATS headers). */
export interface RequestContext {
  correlationId: string;
  /** Absolute deadline (epoch ms) of the work, if any. */
  deadline?: number;
  /** W3C trace context. */
  traceparent?: string;
  tracestate?: string;
  idempotencyKey?: string;
  /** Whether whoever asked for the work has gone away (the client cancelled the call). */
  cancelled?: () => boolean;
}

export const metadataKeys = {
  correlationId: "x-request-id",
  traceparent: "traceparent",
  tracestate: "tracestate",
  idempotencyKey: "idempotency-key",
} as const;

const storage = new AsyncLocalStorage<RequestContext>();

export function currentContext(): RequestContext | undefined {
  return storage.getStore();
}

export function runWithContext<T>(context: RequestContext, fn: () => T): T {
  return storage.run(context, fn);
}

/** Reads the context from headers (gRPC metadata or NATS headers), generating a correlation id when absent. */
export function contextFromHeaders(get: (key: string) => string | undefined, deadline?: number): RequestContext {
  return {
    correlationId: get(metadataKeys.correlationId) || randomUUID(),
    deadline,
    traceparent: get(metadataKeys.traceparent) || undefined,
    tracestate: get(metadataKeys.tracestate) || undefined,
    idempotencyKey: get(metadataKeys.idempotencyKey) || undefined,
  };
}

/** Headers to pass downstream so the work keeps its correlation id and trace. */
export function propagationHeaders(context: RequestContext | undefined = currentContext()): Record<string, string> {
  if (!context) return {};
  const out: Record<string, string> = { [metadataKeys.correlationId]: context.correlationId };
  if (context.traceparent) out[metadataKeys.traceparent] = context.traceparent;
  if (context.tracestate) out[metadataKeys.tracestate] = context.tracestate;
  return out;
}

/** Milliseconds left before the current work's deadline, if it has one. */
export function remainingMs(context: RequestContext | undefined = currentContext()): number | undefined {
  return context?.deadline === undefined ? undefined : Math.max(0, context.deadline - Date.now());
}

/**
 * Throws when nobody waits for the current work any more: its deadline passed (DEADLINE_EXCEEDED)
 * or its caller cancelled (CANCELLED). Called before work that costs (a statement, a call), so an
 * abandoned request stops at its next step instead of running to the end for nobody.
 */
export function ensureStillWanted(what: string, context: RequestContext | undefined = currentContext()): void {
  if (!context) return;
  if (context.deadline !== undefined && context.deadline <= Date.now()) {
    throw new ConnectError(`deadline passed before ${what}`, Code.DeadlineExceeded);
  }
  if (context.cancelled?.()) throw new ConnectError(`call cancelled before ${what}`, Code.Canceled);
}
