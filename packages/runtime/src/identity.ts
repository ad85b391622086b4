import type { HandlerContext } from "@connectrpc/connect";
import { errors } from "./errors.js";
import { metadataKeys } from "./request-context.js";

export type Role = "customer" | "admin";

export interface Caller {
  userId: string;
  role: Role;
}

/**
 * The caller as asserted by the gateway in metadata. Services sit on a private network
 * behind the gateway, which verified the JWT; they trust these entries.
 */
export function callerOf(ctx: HandlerContext): Caller | undefined {
  const userId = ctx.requestHeader.get(metadataKeys.userId);
  if (!userId) return undefined;
  const role = ctx.requestHeader.get(metadataKeys.role) === "admin" ? "admin" : "customer";
  return { userId, role };
}

export function requireCaller(ctx: HandlerContext): Caller {
  const caller = callerOf(ctx);
  if (!caller) throw errors.unauthenticated();
  return caller;
}

export function requireAdmin(ctx: HandlerContext): Caller {
  const caller = requireCaller(ctx);
  if (caller.role !== "admin") throw errors.permissionDenied("admin role required");
  return caller;
}

/** Owners see their own resources; admins see everyone's. */
export function requireOwnerOrAdmin(ctx: HandlerContext, ownerId: string): Caller {
  const caller = requireCaller(ctx);
  if (caller.role !== "admin" && caller.userId !== ownerId) throw errors.permissionDenied();
  return caller;
}
